// Typed function signatures for tests that speak gpool.v1 to the daemons directly.
#ifndef GPOOL_TESTS_SUPPORT_WIRE_SIGNATURE_H_
#define GPOOL_TESTS_SUPPORT_WIRE_SIGNATURE_H_

#include <string>

#include "gpool.pb.h"

namespace gpool::testing {

// Sets `signature` to `name` with the given types; int64 -> int64 by default, the type of
// the built-ins the integer tests use (square, cube, identity).
inline void SetSignature(v1::FunctionSignature* signature, const std::string& name,
                         v1::ElementType input = v1::ELEMENT_TYPE_INT64,
                         v1::ElementType output = v1::ELEMENT_TYPE_INT64) {
  signature->set_name(name);
  signature->set_input_type(input);
  signature->set_output_type(output);
}

}  // namespace gpool::testing

#endif  // GPOOL_TESTS_SUPPORT_WIRE_SIGNATURE_H_

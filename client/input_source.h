// Where a streamed job's inputs come from (Client::MapStream): values yielded in batches, so
// that an input of any length passes through the client with bounded memory. A file is read
// a buffer at a time and parsed as it goes; a generator yields what it computes.
#ifndef GPOOL_CLIENT_INPUT_SOURCE_H_
#define GPOOL_CLIENT_INPUT_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/elements.h"
#include "absl/status/statusor.h"

namespace gpool {

// Not thread-safe: one job reads it, on one thread.
class InputSource {
 public:
  virtual ~InputSource() = default;

  // Appends the next values, at most `max` (>= 1), to `batch`; at the end of the input it
  // appends none. Errors: INVALID_ARGUMENT (a line that is not an integer) or OUT_OF_RANGE
  // (one that does not fit int64), naming the source and the line; DATA_LOSS (a read error);
  // or the generator's own.
  virtual absl::Status Next(size_t max, std::vector<int64_t>& batch) = 0;
  // The type of the values it yields: int64 unless it says otherwise.
  virtual ElementType type() const { return ElementType::kInt64; }
  // Appends the next values, at most `max` and, for strings and bytes, stopping once
  // `max_bytes` are taken (at least one value, however large), to `batch`, which is of
  // type(). None at the end. For int64 sources, Next's values.
  virtual absl::Status NextElements(size_t max, uint64_t max_bytes, Elements& batch);
  // Starts again from the first value, for a resubmission after the coordinator was lost.
  // FAILED_PRECONDITION for a source that cannot (stdin, a pipe, a one-shot generator).
  virtual absl::Status Rewind() = 0;
  // Whether Rewind can succeed (a regular file, values in memory).
  virtual bool CanRewind() const { return false; }
  // What messages call it: "values.txt", "stdin", "a generator".
  virtual std::string Name() const = 0;
};

// The lines of the file at `path` ("-": stdin), one integer per line (blank lines skipped,
// spaces around a value allowed, a leading '+' too), as ParseValueLines reads them.
// NOT_FOUND when it cannot be opened. A regular file can be rewound; stdin cannot.
absl::StatusOr<std::unique_ptr<InputSource>> OpenValueFile(const std::string& path);

// The lines of the file at `path` ("-": stdin) as elements of `type` (gpool map --input FILE
// --type TYPE): int64 as OpenValueFile; double, one number per line (blank lines skipped;
// "inf", "nan" too); string, every line as it is (without its newline; empty lines are
// elements too; UTF-8, else INVALID_ARGUMENT naming the line); bytes, every non-blank line
// the path of a file whose contents are the element (at most 1 MiB, else INVALID_ARGUMENT
// naming it; NOT_FOUND when it cannot be read).
absl::StatusOr<std::unique_ptr<InputSource>> OpenElementFile(const std::string& path,
                                                             ElementType type);

// Values a function yields: `next` appends at most `max` values to its batch, none at the
// end. It cannot be rewound.
using ValueGenerator = std::function<absl::Status(size_t max, std::vector<int64_t>& batch)>;
std::unique_ptr<InputSource> GeneratorSource(ValueGenerator next);

// Values held in memory (tests, small lists); can be rewound.
std::unique_ptr<InputSource> VectorSource(std::vector<int64_t> values);

}  // namespace gpool

#endif  // GPOOL_CLIENT_INPUT_SOURCE_H_

# Builds everything with sanitizers, for scripts/run-sanitizers.sh:
#   -DGPOOL_SANITIZE=address,undefined   AddressSanitizer + UndefinedBehaviorSanitizer
#   -DGPOOL_SANITIZE=thread              ThreadSanitizer
# and, with clang, -DGPOOL_FUZZ=ON adds the libFuzzer harnesses of fuzz/.
#
# Flags go on every target of ours (and on the generated protobuf code, built here too);
# Debian's gRPC, protobuf and Abseil stay uninstrumented, which ASan and UBSan tolerate.
# Undefined behaviour aborts (-fno-sanitize-recover) so that a test fails on it instead of
# printing a report nobody reads.
set(GPOOL_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined or thread")
option(GPOOL_FUZZ "Build the libFuzzer harnesses in fuzz/ (clang only)" OFF)

if(GPOOL_SANITIZE)
  if(GPOOL_STATIC_DEPS)
    message(FATAL_ERROR "GPOOL_SANITIZE needs -DGPOOL_STATIC_DEPS=OFF: a sanitizer runtime "
                        "must see the C++ runtime's allocations, which -static-libstdc++ hides")
  endif()
  add_compile_options(-fsanitize=${GPOOL_SANITIZE} -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=${GPOOL_SANITIZE})
  if(GPOOL_SANITIZE MATCHES "undefined")
    add_compile_options(-fno-sanitize-recover=undefined)
  endif()
endif()

if(GPOOL_FUZZ AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "GPOOL_FUZZ needs clang (libFuzzer): configure with "
                      "-DCMAKE_CXX_COMPILER=clang++ (Debian packages clang, libfuzzer-14-dev)")
endif()

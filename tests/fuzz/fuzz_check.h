// What the fuzz targets share: the libFuzzer entry points they define and a
// check that stays on in every build type.
//
// A target is one .cc file defining LLVMFuzzerTestOneInput (and, if it needs
// set-up, LLVMFuzzerInitialize). It is linked twice: with libFuzzer
// (-fsanitize=fuzzer, clang only) to search for new inputs, and with
// standalone_main.cc into a program every build runs over the committed
// corpus and regressions (tests/fuzz/README.md).
#ifndef MEMOIR_TESTS_FUZZ_FUZZ_CHECK_H_
#define MEMOIR_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

// A property every input must keep. Unlike assert it is on under NDEBUG;
// a failure aborts, which libFuzzer reports as a crash and saves the input.
#define FUZZ_CHECK(cond)                                                  \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, \
                   __LINE__, #cond);                                      \
      std::abort();                                                       \
    }                                                                     \
  } while (0)

namespace memoir::fuzz {

// `record` copied to `offset` bytes past a 16-byte boundary, so that a
// target can decode the same bytes at several alignments.
class Placed {
 public:
  Placed(std::string_view record, size_t offset)
      : words_((record.size() + offset + 15) / 8 + 1) {
    char* base = reinterpret_cast<char*>(words_.data());
    base += (16 - reinterpret_cast<uintptr_t>(base) % 16) % 16;
    data_ = base + offset;
    if (!record.empty()) std::memcpy(data_, record.data(), record.size());
  }
  const char* data() const { return data_; }

 private:
  std::vector<uint64_t> words_;
  char* data_;
};

}  // namespace memoir::fuzz

#endif  // MEMOIR_TESTS_FUZZ_FUZZ_CHECK_H_

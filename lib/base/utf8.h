// Strict UTF-8 decoding, once for the whole library.
#ifndef MEMOIR_BASE_UTF8_H_
#define MEMOIR_BASE_UTF8_H_

#include <cstddef>
#include <string_view>

namespace memoir::internal {

// The length in bytes (1 to 4) of the UTF-8 sequence that starts at byte `i`
// of `s`, or 0 if no valid one does: a stray continuation byte, a sequence
// cut short by the end of `s`, an overlong form, a surrogate (U+D800 to
// U+DFFF) or a code point above U+10FFFF. REQUIRES: i < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);

}  // namespace memoir::internal

#endif  // MEMOIR_BASE_UTF8_H_

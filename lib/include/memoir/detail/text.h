// Internal: the one strict UTF-8 decoder and the one JSON string writer,
// shared by the library, the replay-plugin helpers (memoir/plugin.h) and the
// memoir CLI. Not part of the API; names here may change without notice.
#ifndef MEMOIR_DETAIL_TEXT_H_
#define MEMOIR_DETAIL_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "memoir/export.h"

namespace memoir::detail {

// The length in bytes (1 to 4) of the UTF-8 sequence that starts at byte `i`
// of `s`, or 0 if no valid one does: a stray continuation byte, a lead byte
// that starts no sequence (0xf8 and above), a sequence cut short by the end
// of `s` or by a byte that is not a continuation byte, an overlong form, a
// surrogate (U+D800 to U+DFFF) or a code point above U+10FFFF.
// REQUIRES: i < s.size().
MEMOIR_EXPORT size_t Utf8SequenceLength(std::string_view s, size_t i);

// How AppendJsonString writes the control characters U+0000 to U+001F and
// U+007F (which it always escapes).
enum class JsonControlEscapes {
  // Every one as \u00XX (lower-case hex): what memoir/plugin.h's JsonQuote
  // writes.
  kUnicode,
  // \n, \t and \r as such, the others as \u00XX: what the CLI writes.
  kShortForms,
};

// Appends `s` to `*out` as a JSON string literal, quotes included: '"' and
// '\' backslash-escaped, control characters escaped as `escapes` says,
// valid UTF-8 sequences (Utf8SequenceLength) copied as they are, and every
// byte that starts no valid sequence written as \ufffd (U+FFFD), one per
// byte. The result is always valid JSON and valid UTF-8, whatever `s` holds.
MEMOIR_EXPORT void AppendJsonString(std::string_view s,
                                    JsonControlEscapes escapes,
                                    std::string* out);

}  // namespace memoir::detail

#endif  // MEMOIR_DETAIL_TEXT_H_

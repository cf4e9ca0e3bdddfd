// Strict UTF-8 decoding and JSON string literals (memoir/detail/text.h),
// once for the library, the plugin helpers and the CLI.
#include <cstdint>

#include "memoir/detail/text.h"

namespace memoir::detail {

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
  if (len == 0 || len > s.size() - i) return 0;
  uint32_t cp = len == 1 ? c : c & (0x7f >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return len;
}

void AppendJsonString(std::string_view s, JsonControlEscapes escapes,
                      std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7f) {
      const bool short_forms = escapes == JsonControlEscapes::kShortForms;
      if (short_forms && c == '\n') {
        *out += "\\n";
      } else if (short_forms && c == '\t') {
        *out += "\\t";
      } else if (short_forms && c == '\r') {
        *out += "\\r";
      } else {
        *out += "\\u00";
        *out += kHex[c >> 4];
        *out += kHex[c & 0xf];
      }
      ++i;
      continue;
    }
    const size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      *out += "\\ufffd";
      ++i;
      continue;
    }
    out->append(s.substr(i, len));
    i += len;
  }
  *out += '"';
}

}  // namespace memoir::detail

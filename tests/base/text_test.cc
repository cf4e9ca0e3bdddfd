// The one UTF-8 decoder and JSON string writer (memoir/detail/text.h),
// which the library, memoir/plugin.h and the CLI all use.
#include "memoir/detail/text.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "memoir/plugin.h"

namespace memoir::detail {
namespace {

// The UTF-8 encoding of any value below 2^21, including the ones UTF-8
// forbids (surrogates, above U+10FFFF), in its shortest form.
std::string Encode(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return out;
}

std::string Json(std::string_view s, JsonControlEscapes escapes) {
  std::string out;
  AppendJsonString(s, escapes, &out);
  return out;
}

TEST_CASE(
    "Utf8SequenceLength accepts every scalar value up to U+10FFFF at its "
    "encoded length and no surrogate") {
  for (uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    const std::string s = Encode(cp);
    const size_t want = cp >= 0xd800 && cp <= 0xdfff ? 0 : s.size();
    if (Utf8SequenceLength(s, 0) != want) {
      FAIL_CHECK("U+" << std::hex << cp << ": got " << Utf8SequenceLength(s, 0)
                      << ", want " << want);
    }
  }
  // Only the sequence at `i` counts, not what follows it.
  CHECK(Utf8SequenceLength("a\xc3\xa9\xff", 1) == 2);
}

TEST_CASE(
    "Utf8SequenceLength rejects overlong forms, code points above U+10FFFF, "
    "stray continuation bytes, impossible lead bytes and truncated "
    "sequences") {
  // Overlong: '/' in two, three and four bytes; U+07FF in three; U+FFFF in
  // four.
  for (std::string_view s :
       {"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",
        "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf"}) {
    CHECK_MESSAGE(Utf8SequenceLength(s, 0) == 0, "overlong form");
  }
  // U+110000 and the largest four-byte value.
  CHECK(Utf8SequenceLength("\xf4\x90\x80\x80", 0) == 0);
  CHECK(Utf8SequenceLength("\xf7\xbf\xbf\xbf", 0) == 0);
  // Surrogates in their three-byte form (CESU-8).
  CHECK(Utf8SequenceLength("\xed\xa0\x80", 0) == 0);
  CHECK(Utf8SequenceLength("\xed\xbf\xbf", 0) == 0);
  // Continuation bytes alone, and lead bytes no sequence starts with.
  CHECK(Utf8SequenceLength("\x80", 0) == 0);
  CHECK(Utf8SequenceLength("\xbf", 0) == 0);
  for (int b = 0xf8; b <= 0xff; ++b) {
    const std::string s = std::string(1, static_cast<char>(b)) + "\x80\x80\x80";
    CHECK(Utf8SequenceLength(s, 0) == 0);
  }
  // Cut short by the end of the string, or by a byte that does not
  // continue the sequence.
  CHECK(Utf8SequenceLength("\xc3", 0) == 0);
  CHECK(Utf8SequenceLength("\xe2\x82", 0) == 0);
  CHECK(Utf8SequenceLength("\xf0\x9f\x98", 0) == 0);
  CHECK(Utf8SequenceLength("x\xf0\x9f\x98", 1) == 0);
  CHECK(Utf8SequenceLength("\xe2\x82x", 0) == 0);
  CHECK(Utf8SequenceLength("\xf0\x9f\x98\xc3\xa9", 0) == 0);
}

TEST_CASE(
    "AppendJsonString escapes quotes, backslashes and every control "
    "character, in short forms only when asked, and appends") {
  CHECK(Json("a\"b\\c", JsonControlEscapes::kUnicode) == R"("a\"b\\c")");
  CHECK(Json(std::string_view("\n\t\r\x01\x1f\x7f\0", 7),
             JsonControlEscapes::kUnicode) ==
        R"("\u000a\u0009\u000d\u0001\u001f\u007f\u0000")");
  CHECK(Json(std::string_view("\n\t\r\x01\x1f\x7f\0", 7),
             JsonControlEscapes::kShortForms) ==
        R"("\n\t\r\u0001\u001f\u007f\u0000")");
  // Every other byte below 0x80 is copied as it is.
  for (int c = 0x20; c < 0x7f; ++c) {
    if (c == '"' || c == '\\') continue;
    const std::string s(1, static_cast<char>(c));
    CHECK(Json(s, JsonControlEscapes::kUnicode) == "\"" + s + "\"");
  }
  std::string out = "[";
  AppendJsonString("x", JsonControlEscapes::kUnicode, &out);
  CHECK(out == "[\"x\"");
}

TEST_CASE(
    "AppendJsonString copies valid UTF-8 and writes U+FFFD for each byte "
    "that starts no valid sequence, whatever the escape policy") {
  for (auto escapes :
       {JsonControlEscapes::kUnicode, JsonControlEscapes::kShortForms}) {
    CHECK(Json("caf\xc3\xa9 \xf0\x9f\x98\x80", escapes) ==
          "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
    CHECK(Json("bad\xff", escapes) == R"("bad\ufffd")");
    // A surrogate's three bytes: none starts a valid sequence.
    CHECK(Json("\xed\xa0\x80", escapes) == R"("\ufffd\ufffd\ufffd")");
    // An overlong '"' must not turn into a bare quote.
    CHECK(Json("\xc0\xa2", escapes) == R"("\ufffd\ufffd")");
    // A truncated sequence, then a valid character after it.
    CHECK(Json("\xe2\x82z", escapes) == R"("\ufffd\ufffdz")");
    CHECK(Json("\xf4\x90\x80\x80", escapes) == R"("\ufffd\ufffd\ufffd\ufffd")");
  }
}

TEST_CASE(
    "AppendJsonString writes valid UTF-8 with no raw control character for "
    "every string of up to two bytes") {
  for (int a = 0; a < 256; ++a) {
    for (int b = -1; b < 256; ++b) {
      std::string s(1, static_cast<char>(a));
      if (b >= 0) s += static_cast<char>(b);
      const std::string out = Json(s, JsonControlEscapes::kShortForms);
      for (size_t i = 0; i < out.size();) {
        const auto c = static_cast<unsigned char>(out[i]);
        const size_t len = Utf8SequenceLength(out, i);
        if (len == 0 || c < 0x20 || c == 0x7f) {
          FAIL_CHECK("input " << a << "," << b << " gave a bad byte at " << i);
          break;
        }
        i += len;
      }
    }
  }
}

TEST_CASE(
    "plugin::JsonQuote and plugin::JsonObject write the library's JSON "
    "strings, with \\u00XX control escapes") {
  CHECK(plugin::JsonQuote("a\n\"\xff") == R"("a\u000a\"\ufffd")");
  CHECK(
      plugin::JsonObject()
          .Str("k\x01", "v\t")
          .Int("n", -3)
          .UInt("u", 7)
          .Bool("b", true)
          .Strs("l", {"x", "\xc3"})
          .Raw("r", "[1]")
          .str() ==
      R"({"k\u0001":"v\u0009","n":-3,"u":7,"b":true,"l":["x","\ufffd"],"r":[1]})");
}

}  // namespace
}  // namespace memoir::detail

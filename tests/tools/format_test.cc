// The CLI's text helpers (tools/cli/format.h).
#include "format.h"

#include <doctest/doctest.h>

#include <random>

namespace memoir::cli {

TEST_CASE("times print as ISO 8601 in UTC") {
  CHECK(IsoTime(0) == "-");
  CHECK(IsoTime(1714564800123456789) == "2024-05-01T12:00:00.123Z");
  CHECK(IsoTime(1714564800123456789, true) == "2024-05-01T12:00:00.123456789Z");
  CHECK(IsoTime(-1) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("sizes print with units") {
  CHECK(Size(0) == "0 B");
  CHECK(Size(1023) == "1023 B");
  CHECK(Size(1536) == "1.5 KiB");
  CHECK(Size(uint64_t{3} << 30) == "3.0 GiB");
}

TEST_CASE("previews show text as text and bytes as hex") {
  CHECK(Preview("") == "(empty)");
  CHECK(Preview("hello") == "\"hello\"");
  CHECK(Preview(std::string("\x00\x01\xff", 3)) == "hex:0001ff");
  CHECK(Preview(std::string(40, '\x01')) ==
        "hex:01010101010101010101010101010101…");
  CHECK(Preview(std::string(60, 'a')).size() < 60);
  CHECK(Cell("a\nb") == "a\\x0ab");
}

TEST_CASE("base64 round-trips any bytes and rejects malformed text") {
  std::mt19937 rng(7);
  for (size_t n = 0; n < 64; ++n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    CHECK(FromBase64(Base64(bytes)) == bytes);
  }
  CHECK(Base64("foob") == "Zm9vYg==");
  for (const char* bad : {"Zm9", "Zm9v!A==", "Z===", "Zm=v", "=Zm9"}) {
    CAPTURE(bad);
    CHECK(!FromBase64(bad));
  }
}

}  // namespace memoir::cli

// The CLI's JSON writer and strict parser (tools/cli/json.h).
#include "json.h"

#include <doctest/doctest.h>

namespace memoir::cli {

TEST_CASE("json strings escape quotes, controls and invalid UTF-8") {
  CHECK(JsonString("a\"b\\c") == R"("a\"b\\c")");
  CHECK(JsonString("x\ny\t\x01") == R"("x\ny\t\u0001")");
  CHECK(JsonString("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
  CHECK(JsonString("bad\xff") == R"("bad\ufffd")");
  CHECK(JsonBytes("text") == R"("text")");
  CHECK(JsonBytes("\xff") == R"({"base64":"/w=="})");
}

TEST_CASE("json objects round-trip through the parser") {
  std::string line = JsonObject()
                         .Str("s", "hé \"q\"\n")
                         .Num("big", 18446744073709551615u)
                         .Int("neg", -9223372036854775807 - 1)
                         .Bool("b", true)
                         .Strs("tags", {"a", "b"})
                         .Raw("obj", R"({"x": [1, 2.5e3, null]})")
                         .str();
  auto v = ParseJson(line);
  REQUIRE(v.ok());
  CHECK(v->Find("s")->text == "hé \"q\"\n");
  CHECK(v->Find("big")->AsU64() == 18446744073709551615u);
  CHECK(v->Find("neg")->AsI64() == -9223372036854775807 - 1);
  CHECK(!v->Find("neg")->AsU64());
  CHECK(v->Find("b")->boolean);
  CHECK(v->Find("tags")->items.size() == 2);
  CHECK(v->Find("obj")->Find("x")->items.size() == 3);
}

TEST_CASE("bytes survive as a string or as base64") {
  const std::string raw("\xff\x00z", 3);
  auto parsed = ParseJson(JsonBytes(raw));
  REQUIRE(parsed.ok());
  CHECK(BytesFrom(*parsed) == raw);
  CHECK(BytesFrom(*ParseJson("\"plain\"")) == "plain");
  CHECK(!BytesFrom(*ParseJson("{\"base64\":\"!!\"}")));
  CHECK(!BytesFrom(*ParseJson("3")));
}

TEST_CASE("json parser rejects what RFC 8259 does not allow") {
  for (const char* bad : {"", "{", "{a:1}", "{\"a\":1,}", "[1,]", "01", "1.",
                          "\"\x01\"", "\"\\x\"", "\"\\ud800\"", "tru", "{} {}",
                          "\"\xff\"", "+1", ".5", "[\"a\" \"b\"]"}) {
    CAPTURE(bad);
    CHECK(!ParseJson(bad).ok());
  }
  CHECK(ParseJson(" {\"a\" : [ true , false , null , -0.5E+2 ] } ").ok());
  CHECK(ParseJson("\"\\ud83d\\ude00\"")->text == "\xf0\x9f\x98\x80");
  std::string deep(100, '[');
  CHECK(!ParseJson(deep + std::string(100, ']')).ok());
}

}  // namespace memoir::cli

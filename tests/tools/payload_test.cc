// Payloads through the application's schema (tools/cli/payload.h): .fbs
// and .bfbs load alike, tables are found by full or bare name, and what
// does not verify falls back to a preview.
#include "payload.h"

#include <doctest/doctest.h>
#include <flatbuffers/idl.h>

#include <fstream>

#include "json.h"
#include "support/temp_dir.h"

namespace memoir::cli {
namespace {

constexpr char kSchema[] = R"(
namespace shop;
table Sale { item: string; price: double; }
table Note { text: string; }
namespace other;
table Note { text: string; }
)";

std::string Encode(const char* table, const char* json) {
  flatbuffers::Parser parser;
  REQUIRE(parser.Parse(kSchema));
  REQUIRE(parser.SetRootType(table));
  REQUIRE_MESSAGE(parser.Parse(json), parser.error_);
  return std::string(
      reinterpret_cast<const char*>(parser.builder_.GetBufferPointer()),
      parser.builder_.GetSize());
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

TEST_CASE("payloads print as JSON through a .fbs or a .bfbs schema") {
  test::TempDir dir;
  Write(dir.Sub("shop.fbs"), kSchema);
  flatbuffers::Parser parser;
  REQUIRE(parser.Parse(kSchema));
  parser.Serialize();
  Write(dir.Sub("shop.bfbs"),
        std::string(
            reinterpret_cast<const char*>(parser.builder_.GetBufferPointer()),
            parser.builder_.GetSize()));
  const std::string sale = Encode("shop.Sale", R"({item: "tea", price: 2.5})");
  for (const char* file : {"shop.fbs", "shop.bfbs"}) {
    CAPTURE(file);
    auto schema = Schema::Load(dir.Sub(file));
    REQUIRE_MESSAGE(schema.ok(), schema.status().ToString());
    RenderedPayload bare = Render(schema->get(), "Sale", sale);
    CHECK(bare.json == R"({"item": "tea", "price": 2.5})");
    CHECK(Render(schema->get(), "shop.Sale", sale).json == bare.json);
    // "Note" names two tables: only the full name chooses.
    RenderedPayload note = Render(schema->get(), "Note", sale);
    CHECK(note.json.empty());
    CHECK(note.why.find("no table 'Note'") != std::string::npos);
    // Bytes that are not that table fall back to a preview.
    RenderedPayload junk = Render(schema->get(), "Sale", "not a flatbuffer");
    CHECK(junk.json.empty());
    CHECK(junk.cell == "\"not a flatbuffer\"");
    CHECK(junk.why.find("does not verify as shop.Sale") != std::string::npos);
  }
}

TEST_CASE("a payload JSON cannot express shows to people, not in --json") {
  test::TempDir dir;
  Write(dir.Sub("shop.fbs"), kSchema);
  auto schema = Schema::Load(dir.Sub("shop.fbs"));
  REQUIRE(schema.ok());
  RenderedPayload r =
      Render(schema->get(), "Sale", Encode("shop.Sale", "{price: nan}"));
  CHECK(r.cell.find("nan") != std::string::npos);
  CHECK(r.json.empty());
  CHECK(r.why.find("NaN") != std::string::npos);
}

TEST_CASE("a file that is not a schema is refused with the parser's reason") {
  test::TempDir dir;
  Write(dir.Sub("bad.fbs"), "table {");
  auto r = Schema::Load(dir.Sub("bad.fbs"));
  CHECK(r.status().IsInvalidArgument());
  CHECK(std::string(r.status().message()).find("cannot parse schema") == 0);
  Write(dir.Sub("bad.bfbs"), "0123456789abcdef");
  CHECK(Schema::Load(dir.Sub("bad.bfbs")).status().IsInvalidArgument());
  CHECK(Schema::Load(dir.Sub("missing.fbs")).status().IsInvalidArgument());
}

}  // namespace memoir::cli

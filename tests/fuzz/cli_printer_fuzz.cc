// Fuzz target: how the memoir CLI prints one event row or snapshot row
// (tools/cli/event_rows.h): table cells, --json lines, and payloads as
// JSON through the bank schema (tests/tools/bank.fbs) via FlatBuffers
// reflection, or as previews.
//
// Input (short inputs read as zeros past their end):
//   flags u8        bit 0: --json; bit 1: commit order (all, tail) rather
//                   than one stream's order (events); bit 2: with the bank
//                   schema; bit 3: a snapshot row rather than an event row;
//                   bit 4: the snapshot passed its checks
//   timestamp_ns i64, seq u64, position u64, schema_version u32 (LE)
//   stream, type:   u8 length ++ bytes each
//   tags:           u8 count ++ (u8 length ++ bytes) per tag
//   payload:        the rest
// Properties:
//  - a --json line is one valid JSON object whose fields give back the
//    row's values: numbers exactly, text exactly when it is valid UTF-8,
//    the payload bytes exactly through payload_base64; "payload" is an
//    object and appears only with a schema;
//  - a table is a header and one row of valid UTF-8 with no control
//    characters: stored bytes cannot drive the terminal.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "event_rows.h"
#include "format.h"
#include "fuzz/fuzz_check.h"
#include "json.h"
#include "payload.h"
#include "storage/bytes.h"

namespace memoir::cli {
namespace {

std::unique_ptr<Schema> bank_schema;

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  uint8_t Byte() {
    return at_ < in_.size() ? static_cast<uint8_t>(in_[at_++]) : 0;
  }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{Byte()} << (8 * i);
    return v;
  }
  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{Byte()} << (8 * i);
    return v;
  }
  std::string_view Bytes(size_t n) {
    n = std::min(n, in_.size() - at_);
    std::string_view out = in_.substr(at_, n);
    at_ += n;
    return out;
  }
  std::string_view Rest() { return Bytes(in_.size() - at_); }

 private:
  std::string_view in_;
  size_t at_ = 0;
};

// What the printer wrote to stdout (a memory file, see Initialize), then
// emptied for the next input.
std::string TakeOutput() {
  FUZZ_CHECK(std::fflush(stdout) == 0);
  std::string out;
  char buf[4096];
  for (off_t at = 0;;) {
    ssize_t n = pread(STDOUT_FILENO, buf, sizeof buf, at);
    FUZZ_CHECK(n >= 0);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    at += n;
  }
  FUZZ_CHECK(ftruncate(STDOUT_FILENO, 0) == 0);
  FUZZ_CHECK(std::fseek(stdout, 0, SEEK_SET) == 0);
  return out;
}

std::vector<std::string> Lines(const std::string& out) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos;) {
    lines.push_back(out.substr(start, nl - start));
    start = nl + 1;
  }
  FUZZ_CHECK(start == out.size());  // every line ends with a newline
  return lines;
}

void CheckTable(const std::string& out, uint64_t seq) {
  std::vector<std::string> lines = Lines(out);
  FUZZ_CHECK(lines.size() == 2);
  for (const std::string& line : lines) {
    FUZZ_CHECK(IsUtf8(line));
    for (char c : line) {
      FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    }
  }
  FUZZ_CHECK(lines[1].find(std::to_string(seq)) != std::string::npos);
}

const JsonValue& Field(const JsonValue& obj, std::string_view key) {
  const JsonValue* v = obj.Find(key);
  FUZZ_CHECK(v != nullptr);
  return *v;
}

void CheckText(const JsonValue& obj, std::string_view key,
               std::string_view want) {
  const JsonValue& v = Field(obj, key);
  FUZZ_CHECK(v.kind == JsonValue::Kind::kString);
  if (IsUtf8(want)) FUZZ_CHECK(v.text == want);
}

void CheckPayload(const JsonValue& obj, std::string_view payload,
                  bool with_schema) {
  const JsonValue& b64 = Field(obj, "payload_base64");
  FUZZ_CHECK(b64.kind == JsonValue::Kind::kString);
  std::optional<std::string> bytes = FromBase64(b64.text);
  FUZZ_CHECK(bytes && *bytes == payload);
  if (const JsonValue* p = obj.Find("payload")) {
    FUZZ_CHECK(with_schema && p->kind == JsonValue::Kind::kObject);
  }
  if (obj.Find("payload_error") != nullptr) FUZZ_CHECK(with_schema);
}

JsonValue OneJsonLine(const std::string& out) {
  std::vector<std::string> lines = Lines(out);
  FUZZ_CHECK(lines.size() == 1);
  Result<JsonValue> parsed = ParseJson(lines[0]);
  FUZZ_CHECK(parsed.ok());
  FUZZ_CHECK(parsed->kind == JsonValue::Kind::kObject);
  return std::move(parsed).value();
}

struct Row {
  uint8_t flags;
  int64_t timestamp_ns;
  uint64_t seq, position;
  uint32_t schema_version;
  std::string_view stream, type, payload;
  std::vector<std::string_view> tags;
};

void PrintEvent(const Row& r, const Options& o, Schema* schema) {
  EventView e;
  e.stream = r.stream;
  e.seq = r.seq;
  e.position = r.position;
  e.timestamp_ns = r.timestamp_ns;
  e.type = r.type;
  e.schema_version = r.schema_version;
  e.payload = r.payload;
  e.tags = r.tags;
  {
    EventPrinter printer(o, schema, /*decoder=*/nullptr,
                         /*in_commit_order=*/(r.flags & 2) != 0);
    printer.Print(e);
    printer.Flush();
    FUZZ_CHECK(printer.count() == 1);
  }
  const std::string out = TakeOutput();
  if (!o.json) {
    CheckTable(out, r.seq);
    return;
  }
  JsonValue line = OneJsonLine(out);
  CheckText(line, "stream", r.stream);
  CheckText(line, "type", r.type);
  FUZZ_CHECK(Field(line, "seq").AsU64() == r.seq);
  FUZZ_CHECK(Field(line, "position").AsU64() == r.position);
  FUZZ_CHECK(Field(line, "timestamp_ns").AsI64() == r.timestamp_ns);
  FUZZ_CHECK(Field(line, "schema_version").AsU64() == r.schema_version);
  FUZZ_CHECK(Field(line, "size").AsU64() == r.payload.size());
  const JsonValue& tags = Field(line, "tags");
  FUZZ_CHECK(tags.kind == JsonValue::Kind::kArray &&
             tags.items.size() == r.tags.size());
  for (size_t i = 0; i < r.tags.size(); ++i) {
    if (IsUtf8(r.tags[i])) FUZZ_CHECK(tags.items[i].text == r.tags[i]);
  }
  CheckPayload(line, r.payload, schema != nullptr);
}

void PrintSnapshot(const Row& r, const Options& o, Schema* schema) {
  SnapshotInfo info;
  info.seq = r.seq;
  info.timestamp_ns = r.timestamp_ns;
  info.type = std::string(r.type);
  info.schema_version = r.schema_version;
  info.size = r.payload.size();
  info.checksum_ok = (r.flags & 16) != 0;
  PrintSnapshots(o, schema, /*decoder=*/nullptr, r.stream, {info},
                 {std::string(r.payload)});
  const std::string out = TakeOutput();
  if (!o.json) {
    CheckTable(out, r.seq);
    return;
  }
  JsonValue line = OneJsonLine(out);
  CheckText(line, "stream", r.stream);
  FUZZ_CHECK(Field(line, "seq").AsU64() == r.seq);
  FUZZ_CHECK(Field(line, "size").AsU64() == r.payload.size());
  const JsonValue& ok = Field(line, "checksum_ok");
  FUZZ_CHECK(ok.kind == JsonValue::Kind::kBool &&
             ok.boolean == info.checksum_ok);
  if (!info.checksum_ok) {
    FUZZ_CHECK(line.Find("payload_base64") == nullptr);
    return;
  }
  CheckText(line, "type", r.type);
  FUZZ_CHECK(Field(line, "timestamp_ns").AsI64() == r.timestamp_ns);
  FUZZ_CHECK(Field(line, "schema_version").AsU64() == r.schema_version);
  CheckPayload(line, r.payload, schema != nullptr);
}

}  // namespace
}  // namespace memoir::cli

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace memoir::cli;
  // The printers write to stdout: make it a memory file to read back.
  int fd = memfd_create("cli_printer_fuzz_stdout", 0);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(std::fflush(stdout) == 0);
  FUZZ_CHECK(dup2(fd, STDOUT_FILENO) == STDOUT_FILENO);
  close(fd);
  auto loaded = Schema::Load(MEMOIR_BANK_FBS);
  FUZZ_CHECK(loaded.ok());
  bank_schema = std::move(loaded).value();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace memoir::cli;
  Reader in(std::string_view(reinterpret_cast<const char*>(data), size));
  Row r;
  r.flags = in.Byte();
  r.timestamp_ns = static_cast<int64_t>(in.U64());
  r.seq = in.U64();
  r.position = in.U64();
  r.schema_version = in.U32();
  r.stream = in.Bytes(in.Byte());
  r.type = in.Bytes(in.Byte());
  for (uint8_t n = in.Byte(), i = 0; i < n; ++i) {
    r.tags.push_back(in.Bytes(in.Byte()));
  }
  r.payload = in.Rest();
  Options o;
  o.json = (r.flags & 1) != 0;
  Schema* schema = (r.flags & 4) != 0 ? bank_schema.get() : nullptr;
  if ((r.flags & 8) != 0) {
    PrintSnapshot(r, o, schema);
  } else {
    PrintEvent(r, o, schema);
  }
  return 0;
}

// Payloads through FlatBuffers reflection, or previews (payload.h).
#include "payload.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "format.h"
#include "json.h"

namespace memoir::cli {
namespace {

constexpr size_t kMaxSchemaBytes = size_t{64} << 20;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

// GenerateText's lines joined into one, as `{"a": 1, "b": [2, 3]}`. Its
// newlines separate tokens only (strings escape theirs).
std::string OneLine(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n') {
      out += text[i];
      continue;
    }
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    const char prev = out.empty() ? '\0' : out.back();
    if (prev == '{' || prev == '[' || next == '}' || next == ']' ||
        next == '\0') {
      continue;
    }
    out += ' ';
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Schema>> Schema::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument(fmt::format("cannot open schema {}", path));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  std::string bytes = buf.str();
  if (bytes.size() > kMaxSchemaBytes) {
    return Status::InvalidArgument(fmt::format("schema {} is larger than {}",
                                               path, Size(kMaxSchemaBytes)));
  }
  std::unique_ptr<Schema> schema(new Schema());
  flatbuffers::IDLOptions& opts = schema->parser_.opts;
  opts.strict_json = true;
  opts.indent_step = 0;  // newlines without indentation; see OneLine
  opts.output_default_scalars_in_json = true;
  const bool binary = EndsWith(path, ".bfbs") ||
                      (bytes.size() >= 8 && bytes.compare(4, 4, "BFBS") == 0);
  if (binary) {
    flatbuffers::Verifier verifier(
        reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (!reflection::VerifySchemaBuffer(verifier) ||
        !schema->parser_.Deserialize(
            reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())) {
      return Status::InvalidArgument(fmt::format(
          "{} is not a binary FlatBuffers schema (make one with 'flatc -b "
          "--schema app.fbs')",
          path));
    }
    schema->bfbs_ = std::move(bytes);
  } else {
    std::string dir = path.find('/') == std::string::npos
                          ? "."
                          : path.substr(0, path.rfind('/'));
    const char* includes[] = {dir.c_str(), nullptr};
    if (!schema->parser_.Parse(bytes.c_str(), includes, path.c_str())) {
      return Status::InvalidArgument(fmt::format("cannot parse schema {}: {}",
                                                 path, schema->parser_.error_));
    }
    schema->parser_.Serialize();
    schema->bfbs_.assign(reinterpret_cast<const char*>(
                             schema->parser_.builder_.GetBufferPointer()),
                         schema->parser_.builder_.GetSize());
  }
  schema->reflection_ = reflection::GetSchema(schema->bfbs_.data());
  return schema;
}

const reflection::Object* Schema::Table(std::string_view type) const {
  const reflection::Object* bare = nullptr;
  int bare_matches = 0;
  for (const reflection::Object* obj : *reflection_->objects()) {
    if (obj->is_struct()) continue;
    std::string_view name = obj->name()->string_view();
    if (name == type) return obj;
    if (EndsWith(name, type) && name.size() > type.size() &&
        name[name.size() - type.size() - 1] == '.') {
      bare = obj;
      ++bare_matches;
    }
  }
  return bare_matches == 1 ? bare : nullptr;
}

bool Schema::ToJson(std::string_view type, std::string_view payload,
                    std::string* json, std::string* why) {
  const reflection::Object* table = Table(type);
  if (table == nullptr) {
    *why = fmt::format("the schema has no table '{}'", type);
    return false;
  }
  // FlatBuffers reads scalars in place: give them aligned memory.
  std::vector<uint64_t> aligned((payload.size() + 7) / 8);
  // (An empty vector's data() may be null, which memcpy must not get.)
  if (!payload.empty()) {
    std::memcpy(aligned.data(), payload.data(), payload.size());
  }
  const auto* data = reinterpret_cast<const uint8_t*>(aligned.data());
  if (payload.size() < 8 ||
      !flatbuffers::Verify(*reflection_, *table, data, payload.size(),
                           /*max_depth=*/64, /*max_tables=*/1000000)) {
    *why = fmt::format("the payload does not verify as {}",
                       table->name()->string_view());
    return false;
  }
  if (!parser_.SetRootType(table->name()->c_str())) {
    *why = parser_.error_;
    return false;
  }
  std::string text;
  if (!flatbuffers::GenerateText(parser_, data, &text)) {
    *why = "a string in the payload is not valid UTF-8";
    return false;
  }
  *json = OneLine(text);
  return true;
}

RenderedPayload Render(Schema* schema, std::string_view type,
                       std::string_view payload) {
  RenderedPayload out;
  if (schema != nullptr && schema->ToJson(type, payload, &out.json, &out.why)) {
    out.cell = out.json;
    // FlatBuffers writes NaN and infinities as bare words, which JSON
    // lacks: people see them, --json lines keep only the bytes.
    if (!ParseJson(out.json).ok()) {
      out.json.clear();
      out.why =
          "the payload holds a number JSON cannot express (NaN or infinity)";
    }
    return out;
  }
  out.cell = Preview(payload);
  return out;
}

}  // namespace memoir::cli

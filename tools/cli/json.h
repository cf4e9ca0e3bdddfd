// JSON for --json output (one object per line) and for export and import.
//
// JsonObject writes one object; strings that are not valid UTF-8 have each
// invalid byte replaced by U+FFFD (export keeps such bytes exactly by
// writing them as {"base64": ...}, see cmd_export.cc). ParseJson is a strict
// RFC 8259 parser for one value, used by import.
#ifndef MEMOIR_TOOLS_CLI_JSON_H_
#define MEMOIR_TOOLS_CLI_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/result.h"

namespace memoir::cli {

// `s` as a JSON string literal, quotes included.
std::string JsonString(std::string_view s);

class JsonObject {
 public:
  JsonObject& Str(std::string_view key, std::string_view value);
  JsonObject& Num(std::string_view key, uint64_t value);
  JsonObject& Int(std::string_view key, int64_t value);
  JsonObject& Bool(std::string_view key, bool value);
  JsonObject& Strs(std::string_view key, const std::vector<std::string>& v);
  // `json` must already be valid JSON.
  JsonObject& Raw(std::string_view key, std::string_view json);
  // "{...}" without a newline.
  std::string str() const { return out_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string out_ = "{";
};

// A parsed JSON value. Numbers keep their text so that 64-bit integers
// survive exactly.
struct JsonValue {
  // Defined in json.cc: the implicit ones would need
  // std::pair<std::string, JsonValue> while JsonValue is incomplete, which
  // clang with libstdc++ rejects.
  JsonValue();
  JsonValue(const JsonValue&);
  JsonValue(JsonValue&&) noexcept;
  JsonValue& operator=(const JsonValue&);
  JsonValue& operator=(JsonValue&&) noexcept;
  ~JsonValue();

  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;  // kNumber: the literal; kString: the decoded string
  std::vector<JsonValue> items;                           // kArray
  std::vector<std::pair<std::string, JsonValue>> fields;  // kObject

  // The member named `key` of an object, or null when absent.
  const JsonValue* Find(std::string_view key) const;
  // The number as an integer of the type, or nullopt when it is not an
  // integer or does not fit.
  std::optional<uint64_t> AsU64() const;
  std::optional<int64_t> AsI64() const;
};

// Bytes that should read as text: a JSON string when they are valid UTF-8,
// else {"base64": "..."}, so that export keeps any bytes exactly.
std::string JsonBytes(std::string_view bytes);
// The inverse of JsonBytes; nullopt when `v` is neither form.
std::optional<std::string> BytesFrom(const JsonValue& v);

// Parses exactly one JSON value (surrounding whitespace allowed).
// kInvalidArgument says what is wrong and at which byte.
Result<JsonValue> ParseJson(std::string_view text);

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_JSON_H_

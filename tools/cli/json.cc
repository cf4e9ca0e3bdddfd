// JsonObject, JsonString and the JsonValue accessors (json.h); the parser
// is in json_parse.cc.
#include "json.h"

#include <charconv>

#include "format.h"
#include "memoir/detail/text.h"

namespace memoir::cli {

std::string JsonString(std::string_view s) {
  std::string out;
  detail::AppendJsonString(s, detail::JsonControlEscapes::kShortForms, &out);
  return out;
}

void JsonObject::Key(std::string_view key) {
  if (out_.size() > 1) out_ += ',';
  out_ += JsonString(key);
  out_ += ':';
}

JsonObject& JsonObject::Str(std::string_view key, std::string_view value) {
  Key(key);
  out_ += JsonString(value);
  return *this;
}

JsonObject& JsonObject::Num(std::string_view key, uint64_t value) {
  Key(key);
  out_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::Int(std::string_view key, int64_t value) {
  Key(key);
  out_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::Bool(std::string_view key, bool value) {
  Key(key);
  out_ += value ? "true" : "false";
  return *this;
}

JsonObject& JsonObject::Strs(std::string_view key,
                             const std::vector<std::string>& v) {
  Key(key);
  out_ += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out_ += ',';
    out_ += JsonString(v[i]);
  }
  out_ += ']';
  return *this;
}

JsonObject& JsonObject::Raw(std::string_view key, std::string_view json) {
  Key(key);
  out_ += json;
  return *this;
}

JsonValue::JsonValue() = default;
JsonValue::JsonValue(const JsonValue&) = default;
JsonValue::JsonValue(JsonValue&&) noexcept = default;
JsonValue& JsonValue::operator=(const JsonValue&) = default;
JsonValue& JsonValue::operator=(JsonValue&&) noexcept = default;
JsonValue::~JsonValue() = default;

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<uint64_t> JsonValue::AsU64() const {
  if (kind != Kind::kNumber) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> JsonValue::AsI64() const {
  if (kind != Kind::kNumber) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

std::string JsonBytes(std::string_view bytes) {
  if (IsUtf8(bytes)) return JsonString(bytes);
  return JsonObject().Str("base64", Base64(bytes)).str();
}

std::optional<std::string> BytesFrom(const JsonValue& v) {
  if (v.kind == JsonValue::Kind::kString) return v.text;
  const JsonValue* b64 = v.Find("base64");
  if (v.kind != JsonValue::Kind::kObject || v.fields.size() != 1 ||
      b64 == nullptr || b64->kind != JsonValue::Kind::kString) {
    return std::nullopt;
  }
  return FromBase64(b64->text);
}

}  // namespace memoir::cli

// Writing and comparing parsed JSON (json_diff.h).
#include "json_diff.h"

#include <algorithm>
#include <string_view>

namespace memoir::cli {
namespace {

void Write(const JsonValue& v, int indent, int depth, std::string* out) {
  auto newline = [&](int level) {
    if (indent < 0) return;
    *out += '\n';
    out->append(static_cast<size_t>(indent * level), ' ');
  };
  switch (v.kind) {
    case JsonValue::Kind::kNull:
      *out += "null";
      return;
    case JsonValue::Kind::kBool:
      *out += v.boolean ? "true" : "false";
      return;
    case JsonValue::Kind::kNumber:
      *out += v.text;
      return;
    case JsonValue::Kind::kString:
      *out += JsonString(v.text);
      return;
    case JsonValue::Kind::kArray:
      *out += '[';
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) *out += ',';
        newline(depth + 1);
        Write(v.items[i], indent, depth + 1, out);
      }
      if (!v.items.empty()) newline(depth);
      *out += ']';
      return;
    case JsonValue::Kind::kObject:
      *out += '{';
      for (size_t i = 0; i < v.fields.size(); ++i) {
        if (i > 0) *out += ',';
        newline(depth + 1);
        *out += JsonString(v.fields[i].first);
        *out += indent < 0 ? ":" : ": ";
        Write(v.fields[i].second, indent, depth + 1, out);
      }
      if (!v.fields.empty()) newline(depth);
      *out += '}';
      return;
  }
}

bool Equal(const JsonValue& a, const JsonValue& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case JsonValue::Kind::kNull:
      return true;
    case JsonValue::Kind::kBool:
      return a.boolean == b.boolean;
    case JsonValue::Kind::kNumber:
    case JsonValue::Kind::kString:
      return a.text == b.text;
    case JsonValue::Kind::kArray:
      if (a.items.size() != b.items.size()) return false;
      for (size_t i = 0; i < a.items.size(); ++i) {
        if (!Equal(a.items[i], b.items[i])) return false;
      }
      return true;
    case JsonValue::Kind::kObject:
      if (a.fields.size() != b.fields.size()) return false;
      for (const auto& [key, value] : a.fields) {
        const JsonValue* other = b.Find(key);
        if (other == nullptr || !Equal(value, *other)) return false;
      }
      return true;
  }
  return false;
}

std::string Escape(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

void Diff(const std::string& path, const JsonValue& a, const JsonValue& b,
          std::vector<JsonChange>* out) {
  if (a.kind == JsonValue::Kind::kObject &&
      b.kind == JsonValue::Kind::kObject) {
    for (const auto& [key, value] : a.fields) {
      const std::string sub = path + "/" + Escape(key);
      if (const JsonValue* other = b.Find(key)) {
        Diff(sub, value, *other, out);
      } else {
        out->push_back({sub, value, std::nullopt});
      }
    }
    for (const auto& [key, value] : b.fields) {
      if (a.Find(key) == nullptr) {
        out->push_back({path + "/" + Escape(key), std::nullopt, value});
      }
    }
    return;
  }
  if (a.kind == JsonValue::Kind::kArray && b.kind == JsonValue::Kind::kArray) {
    const size_t n = std::max(a.items.size(), b.items.size());
    for (size_t i = 0; i < n; ++i) {
      const std::string sub = path + "/" + std::to_string(i);
      if (i >= b.items.size()) {
        out->push_back({sub, a.items[i], std::nullopt});
      } else if (i >= a.items.size()) {
        out->push_back({sub, std::nullopt, b.items[i]});
      } else {
        Diff(sub, a.items[i], b.items[i], out);
      }
    }
    return;
  }
  if (!Equal(a, b)) out->push_back({path, a, b});
}

}  // namespace

std::string WriteJson(const JsonValue& v, int indent) {
  std::string out;
  Write(v, indent, 0, &out);
  return out;
}

std::vector<JsonChange> DiffJson(const JsonValue& before,
                                 const JsonValue& after) {
  std::vector<JsonChange> out;
  Diff("", before, after, &out);
  return out;
}

std::string PathText(const std::string& pointer) {
  return pointer.empty() ? "(the whole value)" : pointer;
}

}  // namespace memoir::cli

// JSON values written back as text, and the difference between two of
// them, for the replay commands: states come from a plugin as JSON text,
// and `memoir diff` (and bisect, verify-snapshots, replay --steps) show
// what changed between two of them.
#ifndef MEMOIR_TOOLS_CLI_JSON_DIFF_H_
#define MEMOIR_TOOLS_CLI_JSON_DIFF_H_

#include <optional>
#include <string>
#include <vector>

#include "json.h"

namespace memoir::cli {

// `v` as JSON text: compact ({"a":1,"b":[2,3]}) when indent < 0, else one
// member or item per line, indented by `indent` spaces per level. Numbers
// keep their original text.
std::string WriteJson(const JsonValue& v, int indent = -1);

// One path whose value differs; a missing side means the path does not
// exist there.
struct JsonChange {
  std::string path;  // a JSON Pointer (RFC 6901): "/balance", "/debited/3"
  std::optional<JsonValue> before, after;
};

// The paths that differ between `before` and `after`, depth first: object
// members by name (in `before`'s order, then members only `after` has),
// array items by index. Values of different kinds (a number that became a
// string) are one change at their path. Empty when the two are equal.
std::vector<JsonChange> DiffJson(const JsonValue& before,
                                 const JsonValue& after);

// A path for people: the pointer, or "(the whole value)" for the root.
std::string PathText(const std::string& pointer);

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_JSON_DIFF_H_

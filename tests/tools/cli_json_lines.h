// Helpers for the CLI tests that read the `memoir` binary's output: exit
// codes with the output in the message, and --json lines parsed.
#ifndef MEMOIR_TESTS_TOOLS_CLI_JSON_LINES_H_
#define MEMOIR_TESTS_TOOLS_CLI_JSON_LINES_H_

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "json.h"
#include "tools/cli_runner.h"

// Requires the run to have exited with `code`, showing its output if not.
#define REQUIRE_EXIT(r, code)                                                 \
  REQUIRE_MESSAGE((r).exit_code == (code), "stdout:\n", (r).out, "stderr:\n", \
                  (r).err)

namespace memoir::test {

inline bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// `line` parsed as JSON; fails the test when it is not.
inline cli::JsonValue Parse(const std::string& line) {
  auto v = cli::ParseJson(line);
  REQUIRE_MESSAGE(v.ok(), line, " : ", v.status().ToString());
  return std::move(v).value();
}

// Every line of the run's stdout, parsed.
inline std::vector<cli::JsonValue> JsonLines(const CliResult& r) {
  std::vector<cli::JsonValue> out;
  for (const std::string& line : r.Lines()) out.push_back(Parse(line));
  return out;
}

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_TOOLS_CLI_JSON_LINES_H_

// Shared options, opening the store, and turning a Status into an exit code
// with a hint (cli.h).
#include "cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <iostream>

#include "json.h"
#include "output.h"

namespace memoir::cli {
namespace {

bool g_json_errors = false;
std::string g_error_command;

// What to do about a failure, by its code; empty when the message says it.
std::string Hint(const Status& s, bool opening) {
  switch (s.code()) {
    case Status::Code::kCorruption:
      return opening ? "The store cannot be opened: restore it from a copy "
                       "or a backup."
                     : "The store is damaged: list the damage with 'memoir "
                       "verify STORE'; 'memoir repair STORE' restores records "
                       "damaged by one flipped bit; otherwise restore from a "
                       "copy or a backup.";
    case Status::Code::kNotFound:
      return opening ? "Check the path: a store is a directory holding "
                       "data.mdb."
                     : "List the streams with 'memoir streams STORE'.";
    case Status::Code::kIOError:
      if (s.raw_error() == EACCES || s.raw_error() == EROFS ||
          s.raw_error() == EPERM) {
        return "Check the permissions; on read-only media, or for a copy "
               "that nobody writes, add --no-lock.";
      }
      return "";
    default:
      return "";
  }
}

void Report(int code, const Status& s, std::string_view doing, bool opening) {
  std::string hint = Hint(s, opening);
  if (hint.empty() && code == kExitUsage) {
    hint =
        g_error_command.empty()
            ? "Run 'memoir --help' for usage."
            : fmt::format("Run 'memoir {} --help' for usage.", g_error_command);
  }
  PrintError(code,
             doing.empty() ? std::string(s.message())
                           : fmt::format("{}: {}", doing, s.message()),
             hint);
}

void FailOpen(const Status& s, std::string_view doing) {
  Report(kExitUnreadable, s, doing, /*opening=*/true);
}

}  // namespace

CLI::Validator AtLeastOne() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        uint64_t v = 0;
        auto [end, ec] =
            std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size() || v == 0) {
          return "must be a whole number of at least 1, got '" + text + "'";
        }
        return "";
      },
      "");
}

void AddStoreArg(CLI::App* cmd, Options& o) {
  cmd->add_option("STORE", o.store, "The store directory (holds data.mdb)")
      ->required();
}

void AddStreamArg(CLI::App* cmd, Options& o) {
  cmd->add_option("STREAM", o.stream, "The stream's name (an actor's id)")
      ->required();
}

void AddJsonFlag(CLI::App* cmd, Options& o) {
  cmd->add_flag("--json", o.json,
                "One JSON object per line instead of a table");
}

void AddNoLockFlag(CLI::App* cmd, Options& o) {
  cmd->add_flag("--no-lock", o.no_lock,
                "Do not use lock.mdb: for copies and read-only media that "
                "nobody writes meanwhile");
  cmd->add_option("--stall-timeout", o.stall_timeout_s,
                  "Stop, as damaged, a read that uses this many seconds of "
                  "CPU time without progress (default 5; time spent waiting "
                  "for a pager, the disk or a busy machine does not count)")
      ->type_name("SECONDS")
      ->check(CLI::PositiveNumber.description(""));
}

void AddSchemaOption(CLI::App* cmd, Options& o) {
  cmd->add_option("--schema", o.schema,
                  "The application's FlatBuffers schema (.fbs or .bfbs): "
                  "payloads print as JSON, the event's type naming the table")
      ->type_name("FILE")
      ->check(CLI::ExistingFile.description(""));
}

std::unique_ptr<Store> OpenForReading(const Options& o) {
  StoreOptions options;
  options.read_only = true;
  options.no_lock = o.no_lock;
  options.create_if_missing = false;
  auto store = Store::Open(o.store, options);
  if (!store.ok()) {
    FailOpen(store.status(), fmt::format("opening {}", o.store));
    return nullptr;
  }
  return std::move(store).value();
}

std::unique_ptr<Store> OpenForWriting(const Options& o, bool create) {
  StoreOptions options;
  options.create_if_missing = create;
  auto store = Store::Open(o.store, options);
  if (!store.ok()) {
    FailOpen(store.status(), fmt::format("opening {} for writing", o.store));
    return nullptr;
  }
  return std::move(store).value();
}

int ExitCode(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound:
    case Status::Code::kStreamDeleted:
    case Status::Code::kConflict:
      return kExitProblems;
    case Status::Code::kInvalidArgument:
      return kExitUsage;
    default:
      return kExitUnreadable;
  }
}

int Fail(const Status& s, std::string_view doing) {
  const int code = ExitCode(s);
  Report(code, s, doing, /*opening=*/false);
  return code;
}

int FailOpening(const Status& s, std::string_view doing) {
  FailOpen(s, doing);
  return kExitUnreadable;
}

int UsageError(std::string_view message) {
  const std::string command =
      g_error_command.empty() ? "memoir" : "memoir " + g_error_command;
  PrintError(kExitUsage, message,
             fmt::format("Run '{} --help' for usage.", command), command);
  return kExitUsage;
}

void SetJsonErrors(bool json) { g_json_errors = json; }

void SetErrorCommand(std::string_view command) {
  g_error_command = std::string(command);
}

void PrintError(int code, std::string_view message, std::string_view hint,
                std::string_view who) {
  ClearProgress();
  if (g_json_errors) {
    JsonObject error;
    error.Str("error", message).Num("code", static_cast<uint64_t>(code));
    if (!hint.empty()) error.Str("hint", hint);
    if (!g_error_command.empty()) error.Str("command", g_error_command);
    fmt::print(stderr, "{}\n", error.str());
  } else {
    fmt::print(stderr, "{}: {}\n", who, message);
    if (!hint.empty()) fmt::print(stderr, "  {}\n", hint);
  }
  std::fflush(stderr);
}

// Asks on stderr and reads the answer from stdin; only "yes", as the
// question says, agrees (a stray "y" or Enter must not delete data).
bool Confirm(const std::string& question) {
  fmt::print(stderr,
             "{} This cannot be undone. Type 'yes' to go on: ", question);
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "yes";
}

}  // namespace memoir::cli

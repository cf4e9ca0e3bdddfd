#include "memoir/status.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#include "memoir/result.h"

namespace memoir {

namespace detail {

void DieOnErrorResult(const Status& status) {
  // One write, flushed (stderr is unbuffered), before the abort: the
  // message is the only trace the caller's mistake leaves.
  std::string line =
      fmt::format("memoir: value() called on a Result holding an error: {}\n",
                  status.ToString());
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace detail

Status::Status(Code code, std::string_view msg)
    : rep_(std::make_shared<Rep>(Rep{code, 0, 0, std::string(msg)})) {}

Status Status::Conflict(std::string_view msg, uint64_t actual_seq) {
  Status s(Code::kConflict, msg);
  auto rep = std::make_shared<Rep>(*s.rep_);
  rep->actual_seq = actual_seq;
  s.rep_ = std::move(rep);
  return s;
}

std::string_view Status::message() const {
  return rep_ ? std::string_view(rep_->message) : std::string_view();
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s = *this;
  auto rep = std::make_shared<Rep>(*rep_);
  rep->message = fmt::format("{}: {}", context, rep_->message);
  s.rep_ = std::move(rep);
  return s;
}

Status Status::WithRawError(int raw) const {
  if (ok()) return *this;
  Status s = *this;
  auto rep = std::make_shared<Rep>(*rep_);
  rep->raw_error = raw;
  s.rep_ = std::move(rep);
  return s;
}

std::string_view Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "not found";
    case Code::kConflict:
      return "conflict";
    case Code::kStreamDeleted:
      return "stream deleted";
    case Code::kInvalidArgument:
      return "invalid argument";
    case Code::kCorruption:
      return "corruption";
    case Code::kStorageFull:
      return "storage full";
    case Code::kIOError:
      return "I/O error";
    case Code::kBusy:
      return "busy";
    case Code::kClosed:
      return "closed";
    case Code::kTimeout:
      return "timeout";
    case Code::kFailed:
      return "failed";
    case Code::kQuarantined:
      return "quarantined";
    case Code::kRejected:
      return "rejected";
    case Code::kUnknownOutcome:
      return "unknown outcome";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return fmt::format("{}: {}", CodeName(rep_->code), rep_->message);
}

}  // namespace memoir

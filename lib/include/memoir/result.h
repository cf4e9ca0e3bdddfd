// Result<T>: a value or the Status that explains why there is none.
//
// Modelled on std::expected and absl::StatusOr. A Result holding a value has
// an OK status(); a Result holding an error never holds a value.
//
// Reading the value of an error Result (value(), operator*, operator->) is a
// programming error, not an input error: in every build type it prints the
// status to stderr and aborts, as absl::StatusOr does without exceptions,
// because no exception but std::bad_alloc crosses memoir's API and silently
// reading an empty value would be undefined behaviour. Check ok() first.
//
// Thread safety: as for any value type.
#ifndef MEMOIR_RESULT_H_
#define MEMOIR_RESULT_H_

#include <optional>
#include <utility>

#include "memoir/export.h"
#include "memoir/status.h"

namespace memoir {

namespace detail {
// Writes "memoir: value() called on a Result holding an error: <status>"
// to stderr and calls std::abort(). Never returns.
[[noreturn]] MEMOIR_EXPORT void DieOnErrorResult(const Status& status);
}  // namespace detail

template <typename T>
class [[nodiscard]] Result {
 public:
  // REQUIRES: !status.ok(). An OK status without a value is a programming
  // error; it is turned into an internal kInvalidArgument error rather than
  // aborting.
  Result(Status status)  // NOLINT(google-explicit-constructor)
      : status_(std::move(status)) {
    if (status_.ok()) {
      status_ = Status::InvalidArgument("internal: Result built from OK");
    }
  }
  Result(T value)  // NOLINT(google-explicit-constructor)
      : value_(std::move(value)) {}

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // The value. REQUIRES: ok(); otherwise prints status() to stderr and
  // aborts (see the top of this file), in every build type. The same holds
  // for operator-> and operator*.
  T& value() & {
    if (!ok()) [[unlikely]]
      detail::DieOnErrorResult(status_);
    return *value_;
  }
  const T& value() const& {
    if (!ok()) [[unlikely]]
      detail::DieOnErrorResult(status_);
    return *value_;
  }
  T&& value() && {
    if (!ok()) [[unlikely]]
      detail::DieOnErrorResult(status_);
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace memoir

#endif  // MEMOIR_RESULT_H_

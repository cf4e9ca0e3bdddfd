// Result<T>: a value or the Status that explains why there is none.
//
// Modelled on std::expected and absl::StatusOr. A Result holding a value has
// an OK status(); a Result holding an error never holds a value.
//
// Thread safety: as for any value type.
#ifndef MEMOIR_RESULT_H_
#define MEMOIR_RESULT_H_

#include <cassert>
#include <optional>
#include <utility>

#include "memoir/status.h"

namespace memoir {

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

  // REQUIRES: ok().
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
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

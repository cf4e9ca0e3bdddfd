// Status: the outcome of a fallible memoir operation.
//
// Every fallible public function returns a Status or a Result<T> (result.h);
// no exception other than std::bad_alloc crosses the public API. A Status is
// either OK or carries a Code that callers may branch on plus a message for
// people: what failed, where, and what to do about it.
//
// Thread safety: a Status is a value. Distinct objects may be used from
// different threads freely; const methods of one object may be called
// concurrently.
#ifndef MEMOIR_STATUS_H_
#define MEMOIR_STATUS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "memoir/export.h"

namespace memoir {

class [[nodiscard]] MEMOIR_EXPORT Status {
 public:
  // The codes callers branch on. The set is deliberately small: a new code is
  // added only when callers must react to it differently from the others.
  enum class Code : uint8_t {
    kOk = 0,
    kNotFound,         // the stream, event or snapshot does not exist
    kConflict,         // an expectation on a stream's sequence failed
    kStreamDeleted,    // the stream was tombstoned
    kInvalidArgument,  // malformed input, or a call the store cannot take
                       // (read-only, or opened before a fork)
    kCorruption,       // stored bytes failed a length, checksum or verifier
    kStorageFull,      // the disk or the configured map limit is full
    kIOError,          // the operating system reported an I/O failure
    kBusy,             // held by someone else, or a queue stayed full
    kClosed,           // the store or actor system was closed
    kTimeout,          // a caller's deadline passed first
    kFailed,           // user code (a handler or apply) failed
    kQuarantined,      // the actor is quarantined after repeated failures
    kRejected,         // an actor's handler refused the command (a reply)
    kUnknownOutcome,   // the connection to a remote store was lost before the
                       // answer to a commit came: it may or may not have
                       // committed (a PostgreSQL store; see postgres.h)
  };

  // Creates an OK status.
  Status() noexcept = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) {
    return Status(Code::kNotFound, msg);
  }
  // `actual_seq` is the stream's highest sequence number when the
  // expectation was checked (0 for a stream with no events).
  static Status Conflict(std::string_view msg, uint64_t actual_seq);
  static Status StreamDeleted(std::string_view msg) {
    return Status(Code::kStreamDeleted, msg);
  }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status Corruption(std::string_view msg) {
    return Status(Code::kCorruption, msg);
  }
  static Status StorageFull(std::string_view msg) {
    return Status(Code::kStorageFull, msg);
  }
  static Status IOError(std::string_view msg) {
    return Status(Code::kIOError, msg);
  }
  static Status Busy(std::string_view msg) { return Status(Code::kBusy, msg); }
  static Status Closed(std::string_view msg) {
    return Status(Code::kClosed, msg);
  }
  static Status Timeout(std::string_view msg) {
    return Status(Code::kTimeout, msg);
  }
  static Status Failed(std::string_view msg) {
    return Status(Code::kFailed, msg);
  }
  static Status Quarantined(std::string_view msg) {
    return Status(Code::kQuarantined, msg);
  }
  static Status Rejected(std::string_view msg) {
    return Status(Code::kRejected, msg);
  }
  static Status UnknownOutcome(std::string_view msg) {
    return Status(Code::kUnknownOutcome, msg);
  }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  // The human-readable message; empty for OK.
  std::string_view message() const;
  // For kConflict: the stream's actual highest sequence number. 0 otherwise.
  uint64_t actual_seq() const { return rep_ ? rep_->actual_seq : 0; }
  // The raw error number reported by the operating system or LMDB, when the
  // status was translated from one; 0 otherwise.
  int raw_error() const { return rep_ ? rep_->raw_error : 0; }

  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsConflict() const { return code() == Code::kConflict; }
  bool IsStreamDeleted() const { return code() == Code::kStreamDeleted; }
  bool IsInvalidArgument() const { return code() == Code::kInvalidArgument; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsStorageFull() const { return code() == Code::kStorageFull; }
  bool IsIOError() const { return code() == Code::kIOError; }
  bool IsBusy() const { return code() == Code::kBusy; }
  bool IsClosed() const { return code() == Code::kClosed; }
  bool IsTimeout() const { return code() == Code::kTimeout; }
  bool IsFailed() const { return code() == Code::kFailed; }
  bool IsQuarantined() const { return code() == Code::kQuarantined; }
  bool IsRejected() const { return code() == Code::kRejected; }
  bool IsUnknownOutcome() const { return code() == Code::kUnknownOutcome; }

  // Returns a copy whose message is "<context>: <message>"; OK stays OK.
  Status WithContext(std::string_view context) const;
  // Returns a copy carrying `raw` as raw_error(); OK stays OK.
  Status WithRawError(int raw) const;

  // "OK" or "<code name>: <message>".
  std::string ToString() const;

  // The code's name as ToString prints it ("not found", "conflict", ...).
  static std::string_view CodeName(Code code);

 private:
  struct Rep {
    Code code;
    int raw_error = 0;
    uint64_t actual_seq = 0;
    std::string message;
  };
  Status(Code code, std::string_view msg);

  // Shared and immutable, so copies are cheap and OK costs one pointer.
  std::shared_ptr<const Rep> rep_;
};

}  // namespace memoir

#endif  // MEMOIR_STATUS_H_

// The store's durable messages (memoir/message_store.h), in two tables:
//
//   outbox: position (big-endian 64) ++ n (big-endian 32)
//           -> seq, sent_ns (little-endian 64 each), schema_version and the
//              lengths of sender, receiver type, receiver, type and
//              metadata (little-endian 32 each), those five strings, the
//              payload, and a checksum (XXH3-64) of everything before it.
//              Format 3: when the sender wants refusals back, bit 31 of
//              the metadata length is set, a sixth length (the reply
//              type's) follows the five, and the reply type follows the
//              metadata
//   inbox:  receiver ++ \0 ++ sender
//           -> seq (little-endian 64), n (little-endian 32), checksum
//   timers: stream ++ \0 ++ key
//           -> seq (little-endian 64), n (little-endian 32), due_ns,
//              set_ns (little-endian 64 each), schema_version and the
//              lengths of receiver type, type and metadata (little-endian
//              32 each), those three strings, the payload, and a checksum
//
// All are written only by the writer thread, inside the transaction of
// the append they go with (MessagesImpl::Commit's op).
#ifndef MEMOIR_STORE_MESSAGES_H_
#define MEMOIR_STORE_MESSAGES_H_

#include <lmdb.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/clock.h"
#include "memoir/message_store.h"
#include "snapshot/snapshot_store_impl.h"
#include "storage/env.h"
#include "storage/verify_context.h"
#include "storage/writer.h"

namespace memoir::internal {

class MessagesImpl {
 public:
  // Opens the tables, creating them in a writable store; `writer` is null
  // in a read-only one. Call before the writer starts. `journal` gives the
  // appends (JournalLink::prepare_append) and the streams' heads.
  static Result<std::unique_ptr<MessagesImpl>> Open(
      Env* env, Writer* writer, std::shared_ptr<Clock> clock,
      JournalLink journal);

  void Commit(MessageCommit commit, MessageStore::CommitCallback done);
  Result<AppendResult> Drop(MessageKey key, std::string_view reason);
  Result<std::vector<std::string>> DropTimers(std::string_view stream);
  Result<std::vector<StoredMessage>> Waiting(MessageKey after, size_t max);
  Result<DeliveryId> LastTaken(std::string_view receiver,
                               std::string_view sender);
  Result<std::vector<StoredTimer>> Timers(std::string_view stream,
                                          std::string_view key, size_t max,
                                          size_t* damaged);
  Result<std::optional<StoredTimer>> FindTimer(std::string_view stream,
                                               std::string_view key);
  int64_t NowNanos() { return clock_->NowNanos(); }
  // In a read-only store, opens the tables its owner created since. Call
  // before the read transaction Verify uses.
  void Refresh() { (void)Handles(); }
  // Checks every outbox and inbox record (VerifyStore): sizes, checksums,
  // names; and that each waiting message's sending event was written (its
  // stream's head reaches its seq; `stream_head` gives it, 0: no stream).
  void Verify(MDB_txn* txn, VerifyContext* ctx,
              const std::function<uint64_t(std::string_view)>& stream_head);

 private:
  class CommitOp;
  struct Dbis {
    std::optional<MDB_dbi> outbox, inbox, timers;
  };
  MessagesImpl(Env* env, Writer* writer, std::shared_ptr<Clock> clock,
               JournalLink journal)
      : env_(env),
        writer_(writer),
        clock_(std::move(clock)),
        journal_(std::move(journal)) {}
  // The handles; in a read-only store, those its owner has created so far.
  Result<Dbis> Handles();

  Env* env_;
  Writer* writer_;
  std::shared_ptr<Clock> clock_;
  JournalLink journal_;
  std::mutex mu_;  // guards dbis_ in a read-only store
  Dbis dbis_;
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORE_MESSAGES_H_

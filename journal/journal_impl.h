// JournalImpl: the Journal on one LMDB environment (layout in layout.h).
//
// Writes run on the store's Writer thread as WriteOps; the journal is also a
// TxnObserver, keeping each stream's head and the unindexed tail in step with
// the transaction and flushing the index in bulk. Readers take a short
// shared lock to start their LMDB transaction and copy the part of the
// published tail they need, so what they see is always one committed state.
#ifndef MEMOIR_JOURNAL_JOURNAL_IMPL_H_
#define MEMOIR_JOURNAL_JOURNAL_IMPL_H_

#include <lmdb.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "journal/record.h"
#include "journal/stream_row.h"
#include "journal/tail_index.h"
#include "memoir/clock.h"
#include "memoir/journal.h"
#include "storage/commit_signal.h"
#include "storage/env.h"
#include "storage/notify_file.h"
#include "storage/writer.h"

namespace memoir::internal {

// A stream's user metadata record (the stream_meta table, layout.h) and
// its reading: a failed checksum is kCorruption naming the stream.
std::string EncodeStreamMetadata(std::string_view metadata);
Status DecodeStreamMetadata(std::string_view record, std::string_view stream,
                            std::string* metadata);

class JournalImpl final : public Journal, public TxnObserver {
 public:
  // Opens the journal's databases. `writer` is null for a read-only store;
  // otherwise the journal registers itself as its observer (before Start).
  static Result<std::unique_ptr<JournalImpl>> Open(
      Env* env, Writer* writer, std::shared_ptr<Clock> clock);

  // Journal.
  void Append(StreamAppend request, AppendCallback done) override;
  void AppendMulti(std::vector<StreamAppend> requests,
                   MultiAppendCallback done) override;
  using Journal::Append;
  using Journal::AppendMulti;
  Result<AppendResult> AppendAndWait(StreamAppend request) override;
  Status DeleteTo(std::string_view stream, uint64_t seq,
                  const DeleteOptions& options) override;
  using Journal::DeleteStream;
  using Journal::DeleteTo;
  Status DeleteStream(std::string_view stream,
                      const DeleteOptions& options) override;
  Status Scan(std::string_view stream, const ReadOptions& options,
              const EventVisitor& visit) override;
  Result<StreamInfo> GetStream(std::string_view stream) override;
  Status SetStreamMetadata(std::string_view stream, std::string_view metadata,
                           std::optional<uint64_t> expected_head) override;
  using Journal::SetStreamMetadata;
  Result<std::string> GetStreamMetadata(std::string_view stream) override;
  Result<uint64_t> Head(std::string_view stream) override;
  Result<StreamPage> ListStreams(const ListStreamsOptions& options) override;
  Result<StreamPage> ListStreams(std::string_view prefix,
                                 std::string_view start_after,
                                 size_t limit) override;
  Status ScanAll(uint64_t from_position, size_t max_count,
                 const EventVisitor& visit) override;
  Status ScanAllThen(uint64_t from_position, size_t max_count,
                     const EventVisitor& visit,
                     const std::function<void()>& then) override;
  Status ScanAllBackward(uint64_t from_position, size_t max_count,
                         const EventVisitor& visit) override;
  Status ScanTag(std::string_view tag, uint64_t from_position, size_t max_count,
                 const EventVisitor& visit) override;
  Status ScanType(std::string_view type, uint64_t from_position,
                  size_t max_count, const EventVisitor& visit) override;
  Result<uint64_t> LastPosition() override;
  using Journal::WaitForCommit;
  Result<uint64_t> WaitForCommit(uint64_t after,
                                 std::chrono::milliseconds timeout,
                                 const std::atomic<bool>* cancel) override;
  void WakeCommitWaiters() override;

  // ScanAll's loop inside `txn` (a read transaction, or the writer's, where
  // it also sees what the transaction appended), up to position `bound`.
  // `remember`: keep the stream names met in the journal's id -> name
  // cache, which only committed streams may enter (an aborted transaction
  // gives its stream ids out again): false in the writer's transaction.
  Status ScanLogIn(MDB_txn* txn, uint64_t from_position, uint64_t bound,
                   size_t max_count, bool remember, const EventVisitor& visit);
  // ScanLogIn in either direction; backward starts at the first position
  // at or below from_position (which must be at most `bound`). `then`
  // (may be null): called after a scan that did not fail, while the views
  // given to `visit` are still valid.
  Status ScanLog(MDB_txn* txn, uint64_t from_position, uint64_t bound,
                 size_t max_count, bool remember, bool backward,
                 const EventVisitor& visit,
                 const std::function<void()>* then = nullptr);
  // The position of the last event in `txn`'s log (0: none). An LMDB code.
  int LogHeadIn(MDB_txn* txn, uint64_t* head);

  // TxnObserver (writer thread).
  void Begin(MDB_txn* txn) override;
  int BeforeCommit(MDB_txn* txn, bool closing) override;
  void Committed() override;
  void Aborted() override;

  // Called inside the deleting transaction when a stream is tombstoned, so
  // other layers (snapshots) delete their part atomically. Register before
  // the store is shared.
  using DeletionHook = std::function<int(MDB_txn*, uint64_t stream_id)>;
  void AddDeletionHook(DeletionHook hook) { hooks_.push_back(std::move(hook)); }

  // The lowest position a consumer kept in the store has examined (its
  // checkpoint), and who it is; *floor is left alone when there is none.
  // Returns an LMDB code. Set before the store is shared.
  using RetentionFloor =
      std::function<int(MDB_txn*, uint64_t* floor, std::string* holder)>;
  void SetRetentionFloor(RetentionFloor floor) { floor_ = std::move(floor); }

  // What a DeleteTo held back for a consumer (ApplyDelete).
  struct HeldBack {
    bool held = false;
    uint64_t deleted_to = 0;  // the seq deleted up to
    uint64_t wanted = 0;      // the seq asked for (clamped to the head)
    uint64_t floor = 0;       // the consumer's checkpoint
    std::string holder;
  };

  // Writer thread: the id and head of `name` as the current transaction sees
  // them. kNotFound when the stream does not exist. For layers that write
  // beside the journal (a snapshot must not be above the head).
  struct StreamState {
    uint64_t id = 0;
    uint64_t head = 0;
    uint64_t deleted_to = 0;
    bool deleted = false;
  };
  Status WriterLookup(MDB_txn* txn, std::string_view name, StreamState* out,
                      int* rc);

  // Reader side: the id of `name` in a read transaction, or kNotFound.
  Result<uint64_t> StreamId(MDB_txn* txn, std::string_view name);

  // The checks every append passes before it is queued: stream name,
  // event count, type, payload size and tags. kInvalidArgument says which.
  static Status ValidateRequest(const StreamAppend& request);
  // With StoreOptions::generate_event_ids, gives the request's events ids
  // when they have none.
  void GenerateIds(StreamAppend* request) const;

  // One stream's part of an append being applied: the request (name,
  // expectation, and the events' tags) and its encoded records, either as
  // one EventBatch or as separate EventRecords.
  struct AppendPart {
    const StreamAppend* request = nullptr;
    EventBatch* batch = nullptr;
    std::vector<EventRecord>* records = nullptr;
    // HashName(request->stream), computed by the producer so the writer
    // thread does not have to.
    size_t name_hash = 0;
  };
  static size_t HashName(std::string_view name) {
    return std::hash<std::string_view>{}(name);
  }
  // Writer thread: applies an append of `parts` inside `txn`, all or
  // nothing, writing one result per part to `results`. A refusal goes to
  // *op_status; a non-zero LMDB code dooms the transaction.
  int ApplyAppendParts(MDB_txn* txn, std::span<const AppendPart> parts,
                       AppendResult* results, Status* op_status);
  // The same with one vector of records per request (used by layers that
  // append inside their own ops).
  int ApplyAppend(MDB_txn* txn, std::vector<StreamAppend>& requests,
                  std::vector<std::vector<EventRecord>>& records,
                  std::vector<AppendResult>* results, Status* op_status);
  // Writer thread: applies DeleteTo / DeleteStream inside `txn`.
  // Unless `force`, keeps the events above the retention floor and says
  // so in *held.
  int ApplyDelete(MDB_txn* txn, const std::string& name, uint64_t seq,
                  bool tombstone, const DeleteOptions& options, HeldBack* held,
                  Status* op_status);

  // Writer thread: SetStreamMetadata inside `txn`; and the deletion of a
  // tombstoned stream's metadata. LMDB codes.
  int ApplySetMetadata(MDB_txn* txn, const std::string& name,
                       const std::string& metadata,
                       std::optional<uint64_t> expected_head,
                       Status* op_status);
  int DeleteStreamMetadata(MDB_txn* txn, uint64_t id);

  struct Dbs {
    MDB_dbi names, streams, log, stream_index, tag_index, meta;
    MDB_dbi stream_meta = 0;  // valid when has_stream_meta()
  };
  const Dbs& dbs() const { return dbs_; }
  // False in a read-only store written before stream metadata existed.
  bool has_stream_meta() const { return has_stream_meta_; }

 private:
  JournalImpl(Env* env, Writer* writer, std::shared_ptr<Clock> clock)
      : env_(env), writer_(writer), clock_(std::move(clock)) {}
  Status Load();

  // A consistent read: an LMDB snapshot plus the part of the tail it needs.
  struct View {
    std::optional<ReadTxn> txn;
    uint64_t bound = 0;  // events above this position are not visible
  };
  using Grab = std::function<Status(MDB_txn*, const TailIndex&, uint64_t)>;
  Result<View> BeginView(const Grab& grab);
  // A view plus stream `stream`'s id and its visible tail entries.
  // With `damage`, also the tail's damaged records that may be the stream's.
  Result<View> BeginStreamView(std::string_view stream, uint64_t* id,
                               std::vector<TailEntry>* tail,
                               uint64_t* tail_indexed_to,
                               std::vector<TailDamage>* damage);
  // What Scan and GetStream start from: stream `stream`'s view, id, stored
  // row, visible tail entries and the damage that may be its.
  struct StreamRead {
    View view;
    uint64_t id = 0;
    uint64_t tail_indexed_to = 0;
    StreamRow row;
    std::vector<TailEntry> tail;
    std::vector<TailDamage> damage;
  };
  // Validates the name and fills *r; the row's errors name the stream.
  Status ReadStream(std::string_view stream, StreamRead* r);
  static void CopyDamage(const TailIndex& t, uint64_t id, uint64_t bound,
                         std::vector<TailDamage>* out);
  Status ExtendReadOnlyTail(MDB_txn* txn);
  Status ScanTailInto(MDB_txn* txn, uint64_t after, uint64_t to,
                      TailIndex* tail);
  // A tail record at `pos` that failed its checks (`why`): whose it is, if
  // the record can say and the claim fits the stream rows.
  TailDamage DescribeDamage(MDB_txn* txn, uint64_t pos, MDB_val v,
                            const Status& why);
  // "stream 'x' seq n (log record at position p, ...)" for messages.
  std::string DamageWhere(MDB_txn* txn, const TailDamage& damage);
  // The error a read of seqs [first_seq, last_seq] of stream `id` gets
  // from damage in its view that may hide one of them; OK when none does.
  // `info` is the stream as its intact records show it; `newest_position`
  // the position of its newest unindexed intact event (0: none).
  Status DamageError(MDB_txn* txn, std::string_view name, uint64_t id,
                     const StreamInfo& info, uint64_t newest_position,
                     uint64_t first_seq, uint64_t last_seq,
                     const std::vector<TailDamage>& damage);

  // ScanTag and ScanType: the events under `tag` in the tag index (and the
  // tail) from `from_position` on; `what` names it in messages.
  Status ScanIndexed(std::string_view tag, std::string_view what,
                     uint64_t from_position, size_t max_count,
                     const EventVisitor& visit);

  // Scan's reads of one stream by seq within a view (journal_read.cc).
  class SeqReader;
  // Scan's damage check: the error DamageError gives for the seqs a read
  // starting at `lo` with `options` would visit, counting those a damaged
  // record may hide above the stream's head; OK when none may be hidden.
  Status ScanDamageError(MDB_txn* txn, std::string_view stream,
                         const StreamInfo& info, uint64_t newest_position,
                         const ReadOptions& options, uint64_t lo,
                         const std::vector<TailDamage>& damage);

  // Reader side: the row of stream `id` in `txn` (kNotFound if none).
  Status ReadRow(MDB_txn* txn, uint64_t id, StreamRow* row);
  // The name of stream `id`, from the cache or `txn`; `remember` adds it
  // to the cache (only from a transaction that cannot abort).
  Result<std::string> StreamName(MDB_txn* txn, uint64_t id,
                                 bool remember = true);
  static StreamInfo MakeInfo(uint64_t id, const StreamRow& row,
                             const std::vector<TailEntry>& tail);
  // Decodes and checks a log record; with stream_id != 0 also that the
  // envelope names that stream and seq. Errors name where they happened.
  static Status DecodeChecked(MDB_val val, uint64_t position,
                              std::string_view name, uint64_t stream_id,
                              uint64_t seq, AlignedScratch* scratch,
                              DecodedEvent* decoded);
  static bool Emit(std::string_view name, DecodedEvent& d,
                   const EventVisitor& visit);

  // Writer side.
  struct WriterStream;
  // The writer's slot of stream `name` (whose HashName is `hash`); *out is
  // null when the stream does not exist.
  Status FindStream(MDB_txn* txn, std::string_view name, size_t hash,
                    WriterStream** out, int* rc);
  int CreateStream(MDB_txn* txn, const std::string& name, WriterStream** out);
  void EndTxn();
  int FlushIndex(MDB_txn* txn);
  size_t UnindexedCount() const;
  Status RefuseWrites() const;

  Env* env_;
  Writer* writer_;
  std::shared_ptr<Clock> clock_;
  Dbs dbs_{};
  bool has_stream_meta_ = false;
  std::vector<DeletionHook> hooks_;
  RetentionFloor floor_;

  // Published state: guarded by view_mu_ (the writer mutates, under an
  // exclusive lock; readers copy under a shared lock).
  mutable std::shared_mutex view_mu_;
  TailIndex tail_;
  // The newest visible position, published after each commit (owning
  // process only).
  CommitSignal commit_signal_;
  // The same for other processes: the writer's shared file, and a read-only
  // process's view of it (replaced when the writer recreates it).
  std::unique_ptr<NotifyFile> notify_;
  std::mutex reader_notify_mu_;
  std::shared_ptr<NotifyFile> reader_notify_;
  // Files reader_notify_ replaced, for WakeCommitWaiters: a waiter may hold
  // one still.
  std::vector<std::weak_ptr<NotifyFile>> replaced_notify_;
  std::shared_ptr<NotifyFile> ReaderNotify();
  // Read-only stores rebuild the tail from the log instead.
  std::mutex ro_mu_;

  // id -> name, for reads in commit order. Names never change.
  std::mutex names_mu_;
  std::unordered_map<uint64_t, std::string> id_names_;

  // Writer-thread state: committed (w_) and of the open transaction (t_).
  //
  // Every stream the writer has looked up keeps one slot, found by one hash
  // of its name. The slot holds the committed state and the open
  // transaction's, which is current only while txn_epoch matches: a new
  // transaction starts with a new epoch, so nothing is copied or cleared
  // per stream when a transaction ends.
  // An event's id and position, by seq (journal_idempotence.cc).
  struct IdAt {
    uint64_t seq = 0;
    Uuid id;                // none: the event has no id, or is deleted
    uint64_t position = 0;  // set when `id` is
  };
  // The ids of a stream's newest committed events, seqs [low, top], held
  // in a ring indexed by seq modulo its size (the idempotency window).
  struct RecentIds {
    uint64_t low = 1;
    uint64_t top = 0;
    std::vector<IdAt> ring;
  };
  struct WriterStream {
    StreamState committed;
    StreamState txn;
    uint64_t txn_epoch = 0;
    // Loaded on the first append with ids and Any or Exists, then kept in
    // step at each commit; null otherwise.
    std::unique_ptr<RecentIds> recent;
    // The open transaction's events with ids, ascending seq (current only
    // while txn_epoch matches).
    std::vector<IdAt> txn_ids;
  };
  // A name with its hash already computed, for lookups.
  struct HashedName {
    std::string_view name;
    size_t hash;
    friend bool operator==(const HashedName& a, const std::string& b) {
      return a.name == b;
    }
  };
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return HashName(s); }
    size_t operator()(const HashedName& h) const { return h.hash; }
  };
  struct PendingTail {
    uint64_t stream_id;
    TailEntry entry;
    const std::vector<std::string>* tags;  // null: no tags
    std::string_view type;                 // in the record, which outlives it
  };
  // The state of `ws` in the open transaction, for writing.
  StreamState& TxnState(WriterStream& ws);
  // ApplyAppendParts' steps. CheckExpectations finds each part's stream
  // (slots[r], null if it does not exist yet) and sets *refusal when one
  // is deleted or not at its expected head; it writes nothing. WritePart
  // writes one part's records, creating its stream if need be.
  // A part whose events repeat stored ones (CheckRepeat) gets its original
  // result in results[r]; *repeated is set when every part does (then
  // nothing is to be written), and a request repeated only in part is
  // refused.
  int CheckExpectations(MDB_txn* txn, std::span<const AppendPart> parts,
                        WriterStream** slots, AppendResult* results,
                        bool* repeated, Status* refusal);
  int WritePart(MDB_txn* txn, const AppendPart& part, WriterStream** slot,
                AppendResult* result);
  // Idempotent appends (journal_idempotence.cc). What the stored events say
  // about a part whose events carry `ids`, in stream `ws` as the open
  // transaction sees it: new (write it), a duplicate of stored events
  // (*original says where they are), or a partial overlap (*refusal).
  enum class Repeat { kNew, kDuplicate, kPartial };
  int CheckRepeat(MDB_txn* txn, const AppendPart& part,
                  const std::vector<Uuid>& ids, WriterStream& ws,
                  Repeat* repeat, AppendResult* original, Status* refusal);
  // The ids of seqs [lo, hi] of stream `ws` (one IdAt per seq, in order),
  // from the open transaction, the recent ring or the journal. A damaged
  // record sets *refusal.
  int StreamIds(MDB_txn* txn, std::string_view name, WriterStream& ws,
                uint64_t lo, uint64_t hi, std::vector<IdAt>* out,
                Status* refusal);
  // Reads the ids of committed seqs [lo, hi] of stream `ws` from the
  // stream index, the tail and the log into out[seq - base].
  int ReadStoredIds(MDB_txn* txn, std::string_view name, const WriterStream& ws,
                    uint64_t lo, uint64_t hi, uint64_t base,
                    std::vector<IdAt>* out, Status* refusal);
  // At commit: the transaction's ids enter the stream's ring.
  static void AdvanceRecent(WriterStream& ws);
  // Rings held; all are dropped when there are more than kMaxRecentRings.
  size_t w_recent_rings_ = 0;
  static constexpr size_t kMaxRecentRings = 16384;
  // ApplyDelete's step: deletes the index entries of stream `id` from
  // `from_seq` to `to_seq`, their log records and tag entries, counting
  // the index entries in *removed. Stops before the first event above
  // `max_position`, setting *held_seq to its seq (else leaving it alone).
  int DeleteEventsTo(MDB_txn* txn, uint64_t id, uint64_t from_seq,
                     uint64_t to_seq, uint64_t max_position, uint64_t* removed,
                     uint64_t* held_seq);
  // FlushIndex's steps: the stream index and stream rows of streams `ids`
  // for positions in (from, to], then the tag index above `from`.
  // `pending` is the open transaction's entries above `from`, by stream id.
  int FlushStreams(MDB_txn* txn, uint64_t from, uint64_t to,
                   const std::vector<const PendingTail*>& pending,
                   const std::vector<uint64_t>& ids);
  int FlushTags(MDB_txn* txn, uint64_t from,
                const std::vector<const PendingTail*>& pending);
  std::unordered_map<std::string, WriterStream, NameHash, std::equal_to<>>
      w_streams_;
  uint64_t w_next_position_ = 1;
  uint64_t w_next_id_ = 1;
  uint64_t t_epoch_ = 0;
  std::vector<WriterStream*> t_touched_;
  std::vector<std::string> t_created_;  // names created by the open txn
  MDB_cursor* t_log_ = nullptr;         // the open txn's cursor on the log
  std::vector<PendingTail> t_tail_;
  uint64_t t_next_position_ = 1;
  uint64_t t_next_id_ = 1;
  uint64_t t_flushed_to_ = 0;  // 0: no flush in this transaction
  // The type index's first position (layout.h), and whether the open
  // transaction must still store it (a store written before it existed).
  uint64_t w_types_from_ = 1;
  bool w_types_from_unsaved_ = false;
  int64_t t_now_ = 0;
};

}  // namespace memoir::internal

#endif  // MEMOIR_JOURNAL_JOURNAL_IMPL_H_

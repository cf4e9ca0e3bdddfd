// Journal: durable, per-actor event streams.
//
// A stream is named by a UTF-8 id (one per actor). Its events carry gap-free
// sequence numbers starting at 1; every committed event also gets the next
// global position, so the whole journal can be read in commit order. Appends
// go through the store's single writer thread, which commits many requests in
// one transaction (group commit) and completes each after the commit.
//
// Thread safety: every method may be called from any thread concurrently.
// Completion callbacks run on the writer thread: they must be quick and must
// not block on the journal.
//
// Errors every write (Append, AppendMulti, DeleteTo, DeleteStream) may
// return besides its own: kInvalidArgument in a read-only store or in a
// child forked after Store::Open; kClosed after Store::Close; kBusy when the
// write queue stayed full for StoreOptions::enqueue_timeout, or the map
// must grow while this process's reads stay open; kStorageFull when the
// disk or StoreOptions::max_map_size is full (nothing written; the store
// stays usable); kIOError when the commit or a sync fails, after which
// every write fails with kIOError until the store is reopened.
// Errors every read may return besides its own: kBusy when LMDB's reader
// table is full (StoreOptions::max_readers); kCorruption when stored bytes
// fail their checks; kIOError; kInvalidArgument in a forked child.
#ifndef MEMOIR_JOURNAL_H_
#define MEMOIR_JOURNAL_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memoir/export.h"
#include "memoir/result.h"
#include "memoir/status.h"
#include "memoir/uuid.h"

namespace memoir {

// Limits checked on every append. Names and tags are LMDB keys (at most 511
// bytes); 255 leaves room for the rest of the composite keys embedding them.
inline constexpr size_t kMaxStreamNameBytes = 255;
inline constexpr size_t kMaxTagBytes = 255;
inline constexpr size_t kMaxTypeNameBytes = 255;
inline constexpr size_t kMaxTagsPerEvent = 64;
// Largest payload of one event. FlatBuffers buffers must stay below 2 GiB.
inline constexpr size_t kMaxPayloadBytes = size_t{1} << 30;
// Largest metadata of one event.
inline constexpr size_t kMaxMetadataBytes = size_t{1} << 20;
inline constexpr uint64_t kMaxSeq = std::numeric_limits<uint64_t>::max();

// Returns OK if `name` can name a stream: 1 to kMaxStreamNameBytes bytes of
// valid UTF-8 without control characters (U+0000-U+001F, U+007F); else
// kInvalidArgument saying which rule it breaks.
MEMOIR_EXPORT Status ValidateStreamName(std::string_view name);

// An event to append. The payload is opaque bytes (usually the caller's own
// FlatBuffer); `type` and `schema_version` tell readers how to decode it.
//
// An event may carry an id, which makes its append idempotent: appending
// again events whose ids the stream already holds at the same seqs succeeds
// without writing and returns the original result (Journal::Append says
// how far back this is detected). Ids, causation and correlation ids and
// metadata cost about 64 bytes per event more in the log; an event without
// any of them is stored as before.
struct EventData {
  std::string type;
  std::string payload;
  uint32_t schema_version = 1;
  std::vector<std::string> tags;  // each indexed for ScanTag
  // The event's id; none (all zero) unless the caller sets one or
  // StoreOptions::generate_event_ids fills it in. In one request either
  // every event has an id or none has, and no id appears twice.
  Uuid id{};
  // The id of the event (or command) that caused this one, and of the
  // conversation it belongs to; stored and returned, never interpreted.
  Uuid causation_id{};
  Uuid correlation_id{};
  // Free bytes beside the payload (at most kMaxMetadataBytes), for example
  // a user id or a trace context; stored and returned, never interpreted.
  std::string metadata{};
};

// What the caller believes about a stream before appending to it.
class Expected {
 public:
  // Append whatever the stream's state (but not to a deleted stream).
  static Expected Any() { return Expected(Kind::kAny, 0); }
  // The stream must exist: its head is above 0 (events deleted with
  // DeleteTo still count; a tombstoned stream is refused as always).
  static Expected Exists() { return Expected(Kind::kExists, 0); }
  // The stream must have no events yet (highest seq 0).
  static Expected NoStream() { return Expected(Kind::kAt, 0); }
  // The stream's highest seq must be exactly `seq` (0 means "no events").
  static Expected At(uint64_t seq) { return Expected(Kind::kAt, seq); }

  bool any() const { return kind_ == Kind::kAny; }
  bool exists() const { return kind_ == Kind::kExists; }
  // The exact head expected; 0 for Any and Exists.
  uint64_t seq() const { return seq_; }
  // Whether a stream whose head is `head` meets the expectation.
  bool Holds(uint64_t head) const {
    switch (kind_) {
      case Kind::kAny:
        return true;
      case Kind::kExists:
        return head > 0;
      case Kind::kAt:
        return head == seq_;
    }
    return false;
  }

 private:
  enum class Kind : uint8_t { kAny, kAt, kExists };
  Expected(Kind kind, uint64_t seq) : kind_(kind), seq_(seq) {}
  Kind kind_;
  uint64_t seq_;
};

// One stream's part of an append.
struct StreamAppend {
  std::string stream;
  Expected expected = Expected::Any();
  std::vector<EventData> events;  // at least one
};

// Where an append's events landed.
struct AppendResult {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t first_position = 0;
  uint64_t last_position = 0;
};

// A stored event, valid only during the visitor call that receives it.
struct EventView {
  std::string_view stream;
  uint64_t seq = 0;
  uint64_t position = 0;
  int64_t timestamp_ns = 0;
  std::string_view type;
  uint32_t schema_version = 0;
  std::string_view payload;
  std::span<const std::string_view> tags;
  Uuid id{};  // none when appended without
  Uuid causation_id{};
  Uuid correlation_id{};
  std::string_view metadata{};
};

// How Journal::DeleteTo and DeleteStream check what they delete.
struct DeleteOptions {
  // DeleteTo: delete events that a consumer's checkpoint has not passed
  // yet. (DeleteStream deletes everything whatever the consumers.)
  bool force = false;
  // Both: the head the caller believes the stream has; when it has
  // another, nothing is deleted and the call fails with kConflict carrying
  // the actual head (Status::actual_seq), as an append's expectation.
  std::optional<uint64_t> expected_head;
  // DeleteTo: a seq above the head deletes up to the head (Akka's
  // delete-to "max") instead of failing with kInvalidArgument.
  bool clamp_to_head = false;
};

// A stored event that owns its bytes.
struct MEMOIR_EXPORT RecordedEvent {
  std::string stream;
  uint64_t seq = 0;
  uint64_t position = 0;
  int64_t timestamp_ns = 0;
  std::string type;
  uint32_t schema_version = 0;
  std::string payload;
  std::vector<std::string> tags;
  Uuid id{};
  Uuid causation_id{};
  Uuid correlation_id{};
  std::string metadata{};

  static RecordedEvent From(const EventView& view);
};

// Per-stream metadata.
struct StreamInfo {
  std::string name;
  uint64_t id = 0;           // interned 64-bit id, stable for the store's life
  uint64_t head = 0;         // highest seq ever appended (kept by DeleteTo)
  uint64_t deleted_to = 0;   // events 1..deleted_to were deleted
  uint64_t event_count = 0;  // events currently stored
  bool deleted = false;      // tombstoned by DeleteStream
  int64_t created_ns = 0;
  int64_t last_write_ns = 0;
  // Set only by ListStreams: non-empty when a damaged record in the log's
  // unindexed tail may hold this stream's newer events. `head` and
  // `event_count` then count its newest intact event, reads past it fail
  // with kCorruption, and this says which record and what to do.
  std::string damage;
};

struct StreamPage {
  std::vector<StreamInfo> streams;
  // Pass as `start_after` to get the next page; empty on the last page.
  std::string next;
  // With ListStreamsOptions::count_total: how many streams the whole
  // listing holds (every page, as of this page's read).
  std::optional<uint64_t> total;
};

// How Journal::ListStreams selects, orders and pages streams.
struct ListStreamsOptions {
  enum class Order : uint8_t {
    kName,      // byte order of the names
    kCreation,  // the order the streams were created in (first append)
  };
  Order order = Order::kName;
  // Only streams whose names start with this.
  std::string prefix;
  // The `next` of the previous page (empty: from the start). A name in
  // name order; an opaque token in creation order.
  std::string start_after;
  // At most this many streams per page (at least 1).
  size_t limit = 1000;
  // Also count every stream of the listing into StreamPage::total: the
  // listing then reads every matching stream's row, not just one page.
  bool count_total = false;
};

// A range of one stream. Forward reads yield from_seq, from_seq+1, ...;
// backward reads yield to_seq, to_seq-1, ... (clamped to the head).
struct ReadOptions {
  uint64_t from_seq = 1;
  uint64_t to_seq = kMaxSeq;
  size_t max_count = std::numeric_limits<size_t>::max();
  bool backward = false;
};

// Returning false stops the scan early (the scan still returns OK).
using EventVisitor = std::function<bool(const EventView&)>;

class MEMOIR_EXPORT Journal {
 public:
  using AppendCallback = std::function<void(Result<AppendResult>)>;
  using MultiAppendCallback =
      std::function<void(Result<std::vector<AppendResult>>)>;

  virtual ~Journal() = default;

  // --- Writing ---------------------------------------------------------

  // Appends `request.events` to one stream, creating the stream on its
  // first append; all or nothing. `done` is called exactly once: on the
  // writer thread after the commit, or on the calling thread when the
  // request is refused before it is queued (invalid, closed, queue full).
  // Errors: kConflict (Status::actual_seq holds the head) when the
  // expectation does not hold; kStreamDeleted for a tombstoned stream;
  // kInvalidArgument for no events, a bad stream name (ValidateStreamName),
  // type, tag or size (the limits above); those of every write.
  virtual void Append(StreamAppend request, AppendCallback done) = 0;

  // Appends to several streams in one atomic transaction, each with its own
  // expectation: one failed expectation writes nothing at all. The result
  // lists one AppendResult per request, in order. `done` is called as for
  // Append. Errors: those of Append; kConflict names every stream whose
  // expectation failed, each with the head expected and the actual one
  // (Status::actual_seq is the first's); kStreamDeleted, taking precedence
  // over conflicts, for the first tombstoned stream; kInvalidArgument for no
  // requests or a stream named twice.
  virtual void AppendMulti(std::vector<StreamAppend> requests,
                           MultiAppendCallback done) = 0;

  // Future-returning and blocking conveniences over Append and AppendMulti,
  // with their errors.
  std::future<Result<AppendResult>> AppendAsync(StreamAppend request);
  Result<AppendResult> Append(std::string_view stream, Expected expected,
                              std::vector<EventData> events);
  Result<std::vector<AppendResult>> AppendMulti(
      std::vector<StreamAppend> requests);

  // Deletes events 1..seq of `stream`. The head is kept, so later appends
  // continue after it. A seq at or below the deleted prefix (0 included)
  // deletes nothing and is OK. Blocking.
  //
  // Consumers hold events back, like replication slots: an event above the
  // lowest checkpoint kept in the store (a subscription's saved through
  // InStoreCheckpoints, a projection's) has not been examined by that
  // consumer yet, so it is kept unless options.force. DeleteTo then deletes
  // the events at or below that checkpoint and returns kBusy naming the
  // consumer, the checkpoint and the seq it deleted to; call it again once
  // the consumer has passed them (`memoir subscriptions` and `memoir
  // projections` show checkpoints).
  // With options.expected_head set, a stream at another head deletes
  // nothing (kConflict); with options.clamp_to_head, a seq above the head
  // deletes up to the head.
  // Errors: kBusy as above (the events below the checkpoint are deleted);
  // kConflict as above, carrying the actual head; kNotFound when the stream
  // was never written (a stream whose events were all deleted exists);
  // kStreamDeleted for a tombstoned stream; kInvalidArgument when seq
  // exceeds the head (without clamp_to_head) or the name is malformed;
  // those of every write.
  virtual Status DeleteTo(std::string_view stream, uint64_t seq,
                          const DeleteOptions& options) = 0;
  Status DeleteTo(std::string_view stream, uint64_t seq) {
    return DeleteTo(stream, seq, DeleteOptions{});
  }

  // Tombstones `stream`: its events (and snapshots) are deleted, and later
  // appends and reads fail with kStreamDeleted. The name stays taken: the
  // stream is never recreated. Consumers' checkpoints do not hold its
  // events back. With options.expected_head set, a stream at another head
  // is left as it is (kConflict). Blocking.
  // Errors: kConflict as above, carrying the actual head; kNotFound when
  // the stream was never written; kStreamDeleted when it is already
  // tombstoned (a second DeleteStream); kInvalidArgument for a malformed
  // name; those of every write.
  virtual Status DeleteStream(std::string_view stream,
                              const DeleteOptions& options) = 0;
  Status DeleteStream(std::string_view stream) {
    return DeleteStream(stream, DeleteOptions{});
  }

  // --- Reading ---------------------------------------------------------
  // Every read sees one consistent, committed state of the journal. Stored
  // bytes are checked (length, checksum, FlatBuffers verifier) before use;
  // a failure is kCorruption naming the stream and seq or position. The
  // visitor runs on the calling thread; the Read* forms copy what it sees
  // and return the same errors.

  // Visits the events of `stream` in `options`' range; an empty range or a
  // max_count of 0 visits nothing and is OK. Deleted events (DeleteTo) are
  // skipped. Errors: kNotFound for a stream that was never written;
  // kStreamDeleted for a tombstoned one; kInvalidArgument for a malformed
  // name; kCorruption also when a damaged record may hide events of the
  // range (see StreamInfo::damage); those of every read.
  virtual Status Scan(std::string_view stream, const ReadOptions& options,
                      const EventVisitor& visit) = 0;
  Result<std::vector<RecordedEvent>> Read(std::string_view stream,
                                          const ReadOptions& options = {});

  // Metadata of one stream; a tombstoned stream is returned with
  // deleted = true. Errors: kNotFound when never written; kInvalidArgument
  // for a malformed name; kCorruption when a damaged record may hide its
  // head; those of every read.
  virtual Result<StreamInfo> GetStream(std::string_view stream) = 0;

  // A stream's user metadata: free bytes (at most kMaxMetadataBytes) kept
  // beside its events, stored and returned, never interpreted (an owner,
  // a retention hint, a schema name). SetStreamMetadata replaces what was
  // set (empty removes it) in its own commit; with `expected_head` set, a
  // stream at another head is left as it is (kConflict carrying the
  // head). DeleteStream deletes it with the stream; DeleteTo keeps it.
  // Blocking. Errors: kNotFound when the stream was never written (append
  // first); kStreamDeleted for a tombstoned stream; kInvalidArgument for
  // too many bytes or a malformed name; those of every write.
  virtual Status SetStreamMetadata(std::string_view stream,
                                   std::string_view metadata,
                                   std::optional<uint64_t> expected_head) = 0;
  Status SetStreamMetadata(std::string_view stream, std::string_view metadata) {
    return SetStreamMetadata(stream, metadata, std::nullopt);
  }
  // What SetStreamMetadata stored (empty when nothing was). Errors:
  // kNotFound when the stream was never written; kStreamDeleted for a
  // tombstoned stream; kCorruption when the stored record fails its
  // checksum; those of every read.
  virtual Result<std::string> GetStreamMetadata(std::string_view stream) = 0;
  // The highest seq of `stream`; 0 for a stream that was never written.
  // Errors: kStreamDeleted for a tombstoned stream; otherwise as GetStream.
  virtual Result<uint64_t> Head(std::string_view stream) = 0;

  // Streams whose names start with `prefix`, in name order, after
  // `start_after` (exclusive), at most `limit` per page. Tombstoned streams
  // are listed, with deleted = true. A stream whose head a damaged record
  // may hide is listed with `damage` set (GetStream and Head of it fail
  // instead), so one damaged record does not hide the rest of the store.
  // Errors: kInvalidArgument when `limit` is 0; those of every read.
  virtual Result<StreamPage> ListStreams(std::string_view prefix,
                                         std::string_view start_after,
                                         size_t limit) = 0;
  // The same, in name or creation order, optionally with the total. A
  // stream created in a transaction that was then rolled back is never
  // listed. Errors: kInvalidArgument when `limit` is 0 or a creation-order
  // `start_after` is not a token ListStreams gave; those of every read.
  virtual Result<StreamPage> ListStreams(const ListStreamsOptions& options) = 0;

  // Visits events in commit order from global position `from_position`
  // (inclusive; 0 means 1), at most `max_count` (0 visits nothing, OK).
  // Errors: those of every read (kCorruption names the position).
  virtual Status ScanAll(uint64_t from_position, size_t max_count,
                         const EventVisitor& visit) = 0;
  // As ScanAll, then calls `then` once (also when the visitor stopped the
  // scan, never when the scan failed) before the read ends: every view the
  // visitor was given stays valid until `then` returns, so a reader can
  // keep views instead of copying the events. `then` runs inside the read:
  // a long one holds back the reuse of the pages that later writes free,
  // so the file may grow while it runs, and a writer that needs a larger
  // map waits for the read to end (and fails with kBusy after 2 s): `then`
  // must not wait for a commit. Errors: as ScanAll.
  virtual Status ScanAllThen(uint64_t from_position, size_t max_count,
                             const EventVisitor& visit,
                             const std::function<void()>& then) = 0;
  // Visits events in reverse commit order from global position
  // `from_position` down to 1, inclusive: the newest first when it is at
  // or above the newest (kMaxSeq), nothing when it is 0. At most
  // `max_count`. Errors: as ScanAll.
  virtual Status ScanAllBackward(uint64_t from_position, size_t max_count,
                                 const EventVisitor& visit) = 0;
  // As ScanAll, restricted to events carrying `tag`. Errors: as ScanAll;
  // kInvalidArgument for an empty tag, one over kMaxTagBytes or one with a
  // NUL; kCorruption when a damaged unindexed record, which may carry the
  // tag, lies in the range.
  virtual Status ScanTag(std::string_view tag, uint64_t from_position,
                         size_t max_count, const EventVisitor& visit) = 0;
  // As ScanAll, restricted to events of type `type` (EventData::type), by
  // an index kept like the tag index. In a store written by a version
  // without that index, the events written before its first writer that
  // has it are found by walking the log instead (correct, but as slow as
  // ScanAll over them). Errors: as ScanTag; kInvalidArgument for an empty
  // type or one over kMaxTypeNameBytes.
  virtual Status ScanType(std::string_view type, uint64_t from_position,
                          size_t max_count, const EventVisitor& visit) = 0;
  Result<std::vector<RecordedEvent>> ReadAll(uint64_t from_position,
                                             size_t max_count);
  Result<std::vector<RecordedEvent>> ReadAllBackward(uint64_t from_position,
                                                     size_t max_count);
  Result<std::vector<RecordedEvent>> ReadTag(std::string_view tag,
                                             uint64_t from_position,
                                             size_t max_count);
  Result<std::vector<RecordedEvent>> ReadType(std::string_view type,
                                              uint64_t from_position,
                                              size_t max_count);
  // The global position of the newest committed event (0 when empty).
  // Errors: those of every read.
  virtual Result<uint64_t> LastPosition() = 0;

  // Waits until an event above global position `after` is committed and
  // visible to reads, or until `timeout` passes, and returns the newest
  // visible position (at most `after` when the wait timed out: not an
  // error). Read it as a hint and read the events themselves with ScanAll.
  // A commit wakes every waiter at once: in the process that owns the
  // store directly, in a read-only process through the owner's
  // memoir.notify file beside data.mdb. The file is only a hint: without
  // a usable one (missing, foreign, not writable to this process) a
  // read-only store re-reads the position every 10 ms, and with one at
  // least every 100 ms. Errors: those of every read.
  Result<uint64_t> WaitForCommit(uint64_t after,
                                 std::chrono::milliseconds timeout) {
    return WaitForCommit(after, timeout, nullptr);
  }
  // As above, and also ends early, as on a timeout, once `*cancel` is true
  // and WakeCommitWaiters has been called since it was set: a consumer's
  // Stop sets its flag, then wakes the waiters, so it never waits out the
  // timeout. `cancel` may be null.
  virtual Result<uint64_t> WaitForCommit(uint64_t after,
                                         std::chrono::milliseconds timeout,
                                         const std::atomic<bool>* cancel) = 0;
  // Wakes every WaitForCommit of this process to look at its cancel flag;
  // those whose flag is clear wait on. In a read-only process this also
  // wakes the waiters of the other read-only processes of the store, which
  // wait on after a look at the position.
  virtual void WakeCommitWaiters() = 0;

 private:
  // What the blocking Append does. The default waits for the callback form;
  // the store's journal overrides it to wait without allocating.
  virtual Result<AppendResult> AppendAndWait(StreamAppend request);
};

}  // namespace memoir

#endif  // MEMOIR_JOURNAL_H_

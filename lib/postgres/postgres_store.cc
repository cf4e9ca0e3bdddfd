// A Store kept in PostgreSQL (memoir/postgres.h): the Journal and the
// SnapshotStore over the tables of schema.cc.
//
// Writes go through one writer thread per Store, as in the LMDB store: it
// turns the queue into group commits, each one call of the schema's
// append() function (one round trip, one transaction), with every stream at
// most once per call. Deletions and metadata run alone, in queue order, as
// short transactions on the same connection. Reads use pooled connections;
// a read that needs more than one statement runs them in one REPEATABLE
// READ transaction, so it sees one committed state.
#include <fmt/format.h>
#include <poll.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "base/append_rules.h"
#include "memoir/postgres.h"
#include "postgres/pg_conn.h"
#include "postgres/schema.h"

namespace memoir {
namespace internal::pg {
namespace {

using Clock_ = std::chrono::steady_clock;

// --- Encoding ------------------------------------------------------------

void UuidBytes(const Uuid& u, uint8_t (&out)[16]) {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(u.hi >> (56 - 8 * i));
    out[8 + i] = static_cast<uint8_t>(u.lo >> (56 - 8 * i));
  }
}

Uuid UuidFrom(const uint8_t (&b)[16]) {
  Uuid u;
  for (int i = 0; i < 8; ++i) {
    u.hi = (u.hi << 8) | b[i];
    u.lo = (u.lo << 8) | b[8 + i];
  }
  return u;
}

// An event's tags as stored: each followed by a NUL (tags hold none).
std::string TagsBlob(const std::vector<std::string>& tags) {
  std::string out;
  for (const std::string& t : tags) {
    out += t;
    out.push_back('\0');
  }
  return out;
}

void SplitTags(std::string_view blob, std::vector<std::string_view>* out) {
  out->clear();
  size_t start = 0;
  for (size_t i = 0; i < blob.size(); ++i) {
    if (blob[i] == '\0') {
      out->push_back(blob.substr(start, i - start));
      start = i + 1;
    }
  }
}

// memoir's checksum of what an event row holds besides its key (stream,
// seq and position are the row's key and unique constraints): XXH3 over
// every field, each length-prefixed.
class Crc {
 public:
  Crc() {
    // Zeroed first: xxhash's reset reads fields it then overwrites, which
    // GCC reports as a use of uninitialised memory.
    std::memset(&state_, 0, sizeof state_);
    XXH3_64bits_reset_withSeed(&state_, 0x6d656d6f69727067ULL);
  }
  Crc& Int(int64_t v) {
    XXH3_64bits_update(&state_, &v, sizeof v);
    return *this;
  }
  Crc& Bytes(std::string_view b) {
    Int(static_cast<int64_t>(b.size()));
    XXH3_64bits_update(&state_, b.data(), b.size());
    return *this;
  }
  Crc& Id(const Uuid& u) {
    return Int(static_cast<int64_t>(u.hi)).Int(static_cast<int64_t>(u.lo));
  }
  int64_t Done() { return static_cast<int64_t>(XXH3_64bits_digest(&state_)); }

 private:
  XXH3_state_t state_;
};

int64_t EventCrc(int64_t ts, std::string_view type, uint32_t schema,
                 std::string_view payload, std::string_view tags,
                 const Uuid& id, const Uuid& cause, const Uuid& corr,
                 std::string_view metadata) {
  return Crc()
      .Int(ts)
      .Bytes(type)
      .Int(schema)
      .Bytes(payload)
      .Bytes(tags)
      .Id(id)
      .Id(cause)
      .Id(corr)
      .Bytes(metadata)
      .Done();
}

int64_t SnapshotCrc(int64_t ts, std::string_view type, uint32_t schema,
                    std::string_view payload, std::string_view metadata) {
  return Crc()
      .Int(ts)
      .Bytes(type)
      .Int(schema)
      .Bytes(payload)
      .Bytes(metadata)
      .Done();
}

int64_t MetadataCrc(std::string_view metadata) {
  return Crc().Bytes(metadata).Done();
}

// The rules a PostgreSQL store adds to the common ones: a payload, and a
// request's payloads and metadata together, fit one group commit's arrays
// (postgres.h).
Status CheckForPostgres(const StreamAppend& r) {
  size_t total = 0;
  for (const EventData& e : r.events) {
    total += e.payload.size() + e.metadata.size();
  }
  if (total > kMaxPostgresRequestBytes) {
    return Status::InvalidArgument(fmt::format(
        "append to stream '{}': {} bytes of payloads and metadata exceed a "
        "PostgreSQL store's limit of {} per request "
        "(kMaxPostgresRequestBytes); split it",
        r.stream, total, kMaxPostgresRequestBytes));
  }
  for (size_t i = 0; i < r.events.size(); ++i) {
    const EventData& e = r.events[i];
    if (e.payload.size() > kMaxPostgresPayloadBytes) {
      return Status::InvalidArgument(fmt::format(
          "event {} of stream '{}': payload of {} bytes exceeds a PostgreSQL "
          "store's limit of {} (kMaxPostgresPayloadBytes)",
          i, r.stream, e.payload.size(), kMaxPostgresPayloadBytes));
    }
  }
  return Status::OK();
}

Status CheckSnapshotForPostgres(std::string_view stream,
                                const SnapshotData& d) {
  if (d.payload.size() > kMaxPostgresPayloadBytes) {
    return Status::InvalidArgument(fmt::format(
        "snapshot of stream '{}': payload of {} bytes exceeds a PostgreSQL "
        "store's limit of {} (kMaxPostgresPayloadBytes)",
        stream, d.payload.size(), kMaxPostgresPayloadBytes));
  }
  return Status::OK();
}

int64_t ClampSeq(uint64_t seq) {
  return static_cast<int64_t>(
      std::min<uint64_t>(seq, std::numeric_limits<int64_t>::max()));
}

size_t RequestBytes(const StreamAppend& r) {
  size_t n = r.stream.size() + 64;
  for (const EventData& e : r.events) {
    n += e.type.size() + e.payload.size() + e.metadata.size() + 128;
    for (const std::string& t : e.tags) n += t.size() + 8;
  }
  return n;
}

template <typename F>
void Complete(const F& done, auto&& value) {
  if (!done) return;
  try {
    done(std::forward<decltype(value)>(value));
  } catch (...) {
    // A callback's exception must not kill the writer thread.
  }
}

// --- Write operations ---------------------------------------------------

struct Op {
  enum class Kind { kAppend, kMulti, kSave, kAppendWithSnapshot, kAlone };
  Kind kind = Kind::kAppend;
  std::vector<StreamAppend> requests;
  std::string save_stream;
  uint64_t save_seq = 0;
  SnapshotData snapshot;
  Journal::AppendCallback append_done;
  Journal::MultiAppendCallback multi_done;
  SnapshotStore::SaveCallback save_done;
  // kAlone: runs by itself on the writer's connection.
  std::function<Status(Conn&, int64_t now)> alone;
  std::function<void(Status)> alone_done;
  size_t bytes = 0;

  void Fail(const Status& s) {
    switch (kind) {
      case Kind::kAppend:
      case Kind::kAppendWithSnapshot:
        Complete(append_done, Result<AppendResult>(s));
        break;
      case Kind::kMulti:
        Complete(multi_done, Result<std::vector<AppendResult>>(s));
        break;
      case Kind::kSave:
        Complete(save_done, s);
        break;
      case Kind::kAlone:
        Complete(alone_done, s);
        break;
    }
  }
};

std::string Expectation(const Expected& e) {
  return e.exists() ? std::string("it to exist")
                    : fmt::format("head {}", e.seq());
}

std::string HeadText(uint64_t head) {
  return head == 0 ? std::string("it has no events")
                   : fmt::format("its head is {}", head);
}

struct Row {
  int status = 0;
  uint64_t head = 0;
  uint64_t seq = 0;
  uint64_t pos = 0;
};

AppendResult ResultOf(const Row& r, size_t n) {
  return {r.seq, r.seq + n - 1, r.pos, r.pos + n - 1};
}

// The answer to one stream's part of a request, from its row.
Status PartStatus(const StreamAppend& req, const Row& r) {
  switch (r.status) {
    case kConflict:
      return Status::Conflict(
          fmt::format("stream '{}': expected {}, but {}; reload the stream "
                      "and retry",
                      req.stream, Expectation(req.expected), HeadText(r.head)),
          r.head);
    case kDeleted:
      return Status::StreamDeleted(fmt::format(
          "stream '{}' was deleted; appends to it are refused", req.stream));
    case kPartialRepeat:
      return Status::Conflict(
          fmt::format("stream '{}': the request repeats part of what is "
                      "stored (the ids of its events match only in part); a "
                      "retry must resend exactly the events of the original "
                      "request, with their ids",
                      req.stream),
          r.head);
    default:
      return Status::OK();
  }
}

// --- The store ------------------------------------------------------------

class PgStore;

class PgJournal final : public Journal {
 public:
  explicit PgJournal(PgStore* store) : store_(store) {}
  void Append(StreamAppend request, AppendCallback done) override;
  void AppendMulti(std::vector<StreamAppend> requests,
                   MultiAppendCallback done) override;
  Status DeleteTo(std::string_view stream, uint64_t seq,
                  const DeleteOptions& options) override;
  Status DeleteStream(std::string_view stream,
                      const DeleteOptions& options) override;
  Status Scan(std::string_view stream, const ReadOptions& options,
              const EventVisitor& visit) override;
  Result<StreamInfo> GetStream(std::string_view stream) override;
  Status SetStreamMetadata(std::string_view stream, std::string_view metadata,
                           std::optional<uint64_t> expected_head) override;
  Result<std::string> GetStreamMetadata(std::string_view stream) override;
  Result<uint64_t> Head(std::string_view stream) override;
  Result<StreamPage> ListStreams(std::string_view prefix,
                                 std::string_view start_after,
                                 size_t limit) override {
    ListStreamsOptions o;
    o.prefix = std::string(prefix);
    o.start_after = std::string(start_after);
    o.limit = limit;
    return ListStreams(o);
  }
  Result<StreamPage> ListStreams(const ListStreamsOptions& options) override;
  Status ScanAll(uint64_t from_position, size_t max_count,
                 const EventVisitor& visit) override {
    return ScanAllThen(from_position, max_count, visit, nullptr);
  }
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
  Result<uint64_t> WaitForCommit(uint64_t after,
                                 std::chrono::milliseconds timeout,
                                 const std::atomic<bool>* cancel) override;
  void WakeCommitWaiters() override;

 private:
  PgStore* store_;
};

class PgSnapshots final : public SnapshotStore {
 public:
  explicit PgSnapshots(PgStore* store) : store_(store) {}
  void Save(std::string_view stream, uint64_t seq, SnapshotData data,
            SaveCallback done) override;
  Result<AppendResult> AppendWithSnapshot(StreamAppend events,
                                          SnapshotData snapshot) override;
  Status Delete(std::string_view stream, uint64_t seq) override;
  Result<size_t> DeleteMatching(std::string_view stream,
                                const SnapshotCriteria& criteria) override;
  Result<size_t> Retain(std::string_view stream, size_t keep_newest) override;
  Result<LoadResult> LoadLatest(std::string_view stream,
                                const SnapshotCriteria& criteria) override;
  Result<std::vector<SnapshotInfo>> List(std::string_view stream) override;

 private:
  Result<size_t> DeleteWhere(std::string_view stream,
                             const std::function<std::vector<uint64_t>(
                                 const std::vector<SnapshotInfo>&)>& pick);
  PgStore* store_;
};

class PgStore final : public Store {
 public:
  ~PgStore() override {
    (void)Close();
    StopListener();
  }

  static Result<std::unique_ptr<Store>> Open(const std::string& conninfo,
                                             const StoreOptions& options,
                                             const PostgresOptions& pg);

  Journal& journal() override { return journal_; }
  SnapshotStore& snapshots() override { return snapshots_; }
  Status Sync() override;
  Status Close() override;
  const std::string& path() const override { return display_; }
  StoreStats Stats() const override {
    StoreStats s;
    s.commits = commits_.load();
    s.write_requests = write_requests_.load();
    s.max_group = max_group_.load();
    return s;
  }

  Result<PostgresStoreInfo> Inspect();

  // --- For the journal and the snapshots --------------------------------
  const std::string& schema() const { return pg_.schema; }
  const StoreOptions& options() const { return options_; }
  Clock& clock() { return *clock_; }
  Status RefuseWrites() const {
    if (options_.read_only) {
      return Status::InvalidArgument(fmt::format(
          "store {} is open read-only; open it without read_only to write",
          display_));
    }
    return Status::OK();
  }
  // Queues `op`; on refusal completes it with the reason.
  void Submit(std::unique_ptr<Op> op);
  // Runs `fn` alone on the writer's connection, in queue order; blocking.
  Status RunAlone(std::function<Status(Conn&, int64_t)> fn);
  // Runs `fn` with a pooled reading connection; retries once on a fresh
  // connection when the first was lost, unless `*delivered` says `fn`
  // already handed something to its caller (a visitor saw events).
  Status Read(const std::function<Status(Conn&)>& fn,
              const bool* delivered = nullptr);
  void NoteCommit(uint64_t last_position);
  Result<uint64_t> WaitForCommit(uint64_t after,
                                 std::chrono::milliseconds timeout,
                                 const std::atomic<bool>* cancel);
  void WakeWaiters();

 private:
  PgStore(const std::string& conninfo, const StoreOptions& options,
          const PostgresOptions& pg)
      : conninfo_(conninfo),
        display_(MaskPassword(conninfo) + " (schema " + pg.schema + ")"),
        options_(options),
        pg_(pg),
        clock_(options.clock ? options.clock : Clock::System()),
        journal_(this),
        snapshots_(this) {}

  Status Connect(std::unique_ptr<Conn>* out, bool writer);
  void WriterLoop();
  void CommitBatch(std::vector<std::unique_ptr<Op>>& batch);
  Status EnsureWriterConn();
  void StartListener();
  void StopListener();
  void ListenLoop();

  const std::string conninfo_;
  const std::string display_;
  const StoreOptions options_;
  const PostgresOptions pg_;
  std::shared_ptr<Clock> clock_;
  PgJournal journal_;
  PgSnapshots snapshots_;

  // The write queue.
  std::mutex mu_;
  std::condition_variable queue_cv_;  // the writer waits for work
  std::condition_variable space_cv_;  // producers wait for room
  std::deque<std::unique_ptr<Op>> queue_;
  size_t queued_bytes_ = 0;
  bool closing_ = false;
  std::thread writer_;
  std::unique_ptr<Conn> wconn_;  // the writer thread's
  Clock_::time_point next_connect_{};
  std::chrono::milliseconds backoff_{0};
  Status last_connect_error_;
  bool call_sent_ = false;  // CommitBatch's call went to the server

  // Reading connections.
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Conn>> pool_;

  // Commit waiters.
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  std::atomic<uint64_t> known_position_{0};
  std::thread listener_;
  std::atomic<bool> listener_stop_{false};
  std::once_flag listener_once_;

  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> write_requests_{0};
  std::atomic<uint64_t> max_group_{0};
};

Status PgStore::Connect(std::unique_ptr<Conn>* out, bool writer) {
  Status s = Conn::Connect(conninfo_, out);
  if (!s.ok()) return s;
  Conn& c = **out;
  // pg_stat_activity names the store and the role of each connection.
  s = c.Simple("set application_name",
               fmt::format("SET application_name = 'memoir {} {}'", pg_.schema,
                           writer ? "writer" : "reader"));
  if (!s.ok()) return s;
  if (pg_.statement_timeout.count() > 0) {
    s = c.Simple("set statement_timeout",
                 fmt::format("SET statement_timeout = {}",
                             pg_.statement_timeout.count()));
    if (!s.ok()) return s;
  }
  if (writer && options_.durability != Durability::kSync) {
    s = c.Simple("set synchronous_commit", "SET synchronous_commit = off");
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Result<std::unique_ptr<Store>> PgStore::Open(const std::string& conninfo,
                                             const StoreOptions& options,
                                             const PostgresOptions& pg) {
  Status s = ValidateSchemaName(pg.schema);
  if (!s.ok()) return s;
  if (options.idempotency_window > kMaxIdempotencyWindow) {
    return Status::InvalidArgument(fmt::format(
        "idempotency_window must be at most {} events (got {}); an exact "
        "expectation already finds repeats in the whole history",
        kMaxIdempotencyWindow, options.idempotency_window));
  }
  std::unique_ptr<PgStore> store(new PgStore(conninfo, options, pg));
  std::unique_ptr<Conn> c;
  s = store->Connect(&c, false);
  if (!s.ok()) return s;
  if (c->server_version() < 150000) {
    return Status::InvalidArgument(
        fmt::format("{}: PostgreSQL {}.{} is too old; memoir needs 15 or later",
                    store->display_, c->server_version() / 10000,
                    c->server_version() % 10000));
  }
  // Creation under a lock, so that two processes opening a new store at
  // once create it once.
  s = c->Simple("open the store", "BEGIN");
  if (!s.ok()) return s;
  auto fail = [&](Status st) {
    (void)c->Simple("roll back", "ROLLBACK");
    return st;
  };
  Params p;
  p.Text("memoir." + pg.schema);
  Rows rows;
  s = c->Exec("lock the store's creation",
              "SELECT pg_advisory_xact_lock(hashtext($1))", &p, &rows);
  if (!s.ok()) return fail(s);
  Params q;
  q.Text(pg.schema);
  s = c->Exec("look for the store",
              "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = $1), "
              "to_regclass(quote_ident($1) || '.meta') IS NOT NULL, "
              "current_setting('server_encoding')",
              &q, &rows);
  if (!s.ok()) return fail(s);
  if (rows.Bytes(0, 2) != "UTF8") {
    return fail(Status::InvalidArgument(fmt::format(
        "{}: the database's encoding is {}; memoir keeps stream names as "
        "text in UTF-8: create the database with ENCODING 'UTF8'",
        store->display_, rows.Bytes(0, 2))));
  }
  const bool schema_exists = rows.Int64(0, 0) > 0;
  const bool meta_exists = rows.Bool(0, 1);
  if (!schema_exists) {
    if (options.read_only || !options.create_if_missing) {
      return fail(Status::NotFound(fmt::format(
          "{}: no memoir store (schema '{}' does not exist){}", store->display_,
          pg.schema,
          options.read_only ? "; a read-only open never creates one" : "")));
    }
    s = c->Simple("create the store",
                  CreateSql(pg.schema, store->clock_->NowNanos()));
    if (!s.ok()) return fail(s);
  } else if (!meta_exists) {
    return fail(Status::Corruption(fmt::format(
        "{}: schema '{}' exists but holds no memoir store (no table "
        "{}.meta); choose another PostgresOptions::schema",
        store->display_, pg.schema, pg.schema)));
  }
  s = c->Exec("read the store's format",
              fmt::format("SELECT format_version, last_position FROM {}.meta "
                          "WHERE id = 1",
                          pg.schema),
              nullptr, &rows);
  if (!s.ok()) return fail(s);
  if (rows.size() != 1) {
    return fail(Status::Corruption(
        fmt::format("{}: table {}.meta has no row; the store is damaged",
                    store->display_, pg.schema)));
  }
  const int version = rows.Int32(0, 0);
  if (version > kFormatVersion) {
    return fail(Status::InvalidArgument(fmt::format(
        "{}: the store has format {}, written by a newer memoir; this one "
        "reads format {} at most: upgrade memoir",
        store->display_, version, kFormatVersion)));
  }
  store->known_position_ = static_cast<uint64_t>(rows.Int64(0, 1));
  s = c->Simple("open the store", "COMMIT");
  if (!s.ok()) return s;
  store->pool_.push_back(std::move(c));
  if (!options.read_only) {
    s = store->Connect(&store->wconn_, true);
    if (!s.ok()) return s;
    store->writer_ = std::thread([raw = store.get()] { raw->WriterLoop(); });
  }
  return std::unique_ptr<Store>(std::move(store));
}

Status PgStore::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  queue_cv_.notify_all();
  space_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  wconn_.reset();
  return Status::OK();
}

Status PgStore::Sync() {
  Status s = RefuseWrites();
  if (!s.ok()) return s;
  // A commit with synchronous_commit on flushes the WAL up to its own
  // record, so every earlier commit with it.
  return RunAlone([](Conn& c, int64_t) {
    Status st = c.Simple("sync", "BEGIN");
    if (!st.ok()) return st;
    st = c.Simple("sync",
                  "SET LOCAL synchronous_commit = on; "
                  "SELECT pg_current_xact_id()");
    if (!st.ok()) {
      (void)c.Simple("sync", "ROLLBACK");
      return st;
    }
    return c.Simple("sync", "COMMIT");
  });
}

void PgStore::Submit(std::unique_ptr<Op> op) {
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = Clock_::now() + options_.enqueue_timeout;
  while (!closing_ && queued_bytes_ > 0 &&
         queued_bytes_ + op->bytes > options_.max_queue_bytes) {
    if (space_cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        queued_bytes_ > 0 &&
        queued_bytes_ + op->bytes > options_.max_queue_bytes) {
      lock.unlock();
      op->Fail(Status::Busy(fmt::format(
          "store {}: the write queue stayed full for {} ms; nothing was "
          "written; retry later or raise StoreOptions::max_queue_bytes",
          display_, options_.enqueue_timeout.count())));
      return;
    }
  }
  if (closing_) {
    lock.unlock();
    op->Fail(Status::Closed(
        fmt::format("store {} is closed; nothing was written", display_)));
    return;
  }
  queued_bytes_ += op->bytes;
  queue_.push_back(std::move(op));
  lock.unlock();
  queue_cv_.notify_one();
}

Status PgStore::RunAlone(std::function<Status(Conn&, int64_t)> fn) {
  auto op = std::make_unique<Op>();
  op->kind = Op::Kind::kAlone;
  op->alone = std::move(fn);
  std::promise<Status> done;
  std::future<Status> result = done.get_future();
  op->alone_done = [&done](Status s) { done.set_value(std::move(s)); };
  op->bytes = 64;
  Submit(std::move(op));
  return result.get();
}

Status PgStore::EnsureWriterConn() {
  // Alive() reads what the server sent while the connection was idle: one
  // it closed (a restart, idle_session_timeout) is replaced before the
  // next call is sent, not found broken after it.
  if (wconn_ && wconn_->Alive()) return Status::OK();
  wconn_.reset();
  const auto now = Clock_::now();
  if (now < next_connect_) {
    return Status::IOError(fmt::format(
        "store {}: PostgreSQL is unreachable ({}); nothing was written; the "
        "store reconnects within {} ms",
        display_, last_connect_error_.message(), backoff_.count()));
  }
  Status s = Connect(&wconn_, true);
  if (s.ok()) {
    backoff_ = std::chrono::milliseconds(0);
    return s;
  }
  wconn_.reset();
  backoff_ = std::min(std::max(backoff_ * 2, std::chrono::milliseconds(10)),
                      pg_.max_reconnect_backoff);
  next_connect_ = now + backoff_;
  last_connect_error_ = s;
  return Status::IOError(fmt::format("{}; nothing was written", s.message()));
}

void PgStore::WriterLoop() {
  // Bounded by the 1 GB limit of one array value (postgres.h).
  const size_t max_batch =
      std::min(options_.max_batch_bytes, size_t{512} << 20);
  for (;;) {
    std::vector<std::unique_ptr<Op>> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      queue_cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and everything is done
      std::unordered_set<std::string_view> streams;
      size_t bytes = 0;
      while (!queue_.empty()) {
        Op& op = *queue_.front();
        if (op.kind == Op::Kind::kAlone) {
          if (batch.empty()) {
            bytes += op.bytes;
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
          }
          break;
        }
        if (!batch.empty() && bytes + op.bytes > max_batch) break;
        // Each stream at most once per call: a later request for a stream
        // already in the batch waits for the next call, after this one.
        bool clash = false;
        if (op.kind == Op::Kind::kSave) {
          clash = streams.count(op.save_stream) > 0;
        } else {
          for (const StreamAppend& r : op.requests) {
            clash = clash || streams.count(r.stream) > 0;
          }
        }
        if (clash) break;
        if (op.kind == Op::Kind::kSave) {
          streams.insert(op.save_stream);
        } else {
          for (const StreamAppend& r : op.requests) streams.insert(r.stream);
        }
        bytes += op.bytes;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_bytes_ -= bytes;
    }
    space_cv_.notify_all();
    try {
      CommitBatch(batch);
    } catch (const std::exception& e) {
      // std::bad_alloc building a large call, say. The ops still in `batch`
      // were not answered (CommitBatch drops each one it answers).
      const Status s =
          call_sent_
              ? Status::UnknownOutcome(fmt::format(
                    "store {}: the group commit failed after it was sent "
                    "({}); it may or may not have committed",
                    display_, e.what()))
              : Status::IOError(fmt::format(
                    "store {}: the group commit failed before it was sent "
                    "({}); nothing was written",
                    display_, e.what()));
      for (auto& op : batch) {
        if (op) op->Fail(s);
      }
    }
  }
}

void PgStore::CommitBatch(std::vector<std::unique_ptr<Op>>& batch) {
  call_sent_ = false;
  Status s = EnsureWriterConn();
  if (!s.ok()) {
    for (auto& op : batch) op->Fail(s);
    return;
  }
  const int64_t now = clock_->NowNanos();
  if (batch.front()->kind == Op::Kind::kAlone) {
    Op& op = *batch.front();
    call_sent_ = true;
    Status st = op.alone(*wconn_, now);
    if (!st.ok() && !wconn_->broken()) {
      (void)wconn_->Simple("roll back", "ROLLBACK");
    }
    op.Fail(st);  // completes with OK too
    return;
  }
  // The call's arrays.
  ArrayBuilder r_kind(kInt4Oid), r_stream(kTextOid), r_group(kInt4Oid),
      r_expect(kInt8Oid), r_nevents(kInt4Oid), r_off(kInt4Oid),
      r_snap(kInt4Oid), r_first_id(kUuidOid);
  ArrayBuilder e_req(kInt4Oid), e_k(kInt4Oid), e_type(kByteaOid),
      e_schema(kInt4Oid), e_payload(kByteaOid), e_tags(kByteaOid),
      e_id(kUuidOid), e_cause(kUuidOid), e_corr(kUuidOid), e_meta(kByteaOid),
      e_crc(kInt8Oid);
  ArrayBuilder t_tag(kByteaOid), t_event(kInt4Oid);
  ArrayBuilder s_type(kByteaOid), s_schema(kInt4Oid), s_payload(kByteaOid),
      s_meta(kByteaOid), s_crc(kInt8Oid);
  int32_t req = 0, event = 0, snap = 0;
  auto add_snapshot = [&](const SnapshotData& d) {
    s_type.AddBytes(d.type);
    s_schema.AddInt32(static_cast<int32_t>(d.schema_version));
    s_payload.AddBytes(d.payload);
    s_meta.AddBytes(d.metadata);
    s_crc.AddInt64(
        SnapshotCrc(now, d.type, d.schema_version, d.payload, d.metadata));
    return ++snap;
  };
  auto add_append = [&](const StreamAppend& r, int32_t group,
                        const SnapshotData* snapshot) {
    ++req;
    r_kind.AddInt32(0);
    r_stream.AddBytes(r.stream);
    r_group.AddInt32(group);
    // A seq no stream can reach (above INT64_MAX) is sent as INT64_MAX,
    // which no head equals either: a conflict, never the -1/-2 markers.
    r_expect.AddInt64(r.expected.any()      ? -1
                      : r.expected.exists() ? -2
                                            : ClampSeq(r.expected.seq()));
    r_nevents.AddInt32(static_cast<int32_t>(r.events.size()));
    r_off.AddInt32(event);
    r_snap.AddInt32(snapshot ? add_snapshot(*snapshot) : 0);
    if (r.events[0].id.empty()) {
      r_first_id.AddNull();
    } else {
      uint8_t b[16];
      UuidBytes(r.events[0].id, b);
      r_first_id.AddUuid(b);
    }
    int32_t k = 0;
    for (const EventData& e : r.events) {
      ++event;
      e_req.AddInt32(req);
      e_k.AddInt32(k++);
      e_type.AddBytes(e.type);
      e_schema.AddInt32(static_cast<int32_t>(e.schema_version));
      e_payload.AddBytes(e.payload);
      const std::string tags = TagsBlob(e.tags);
      e_tags.AddBytes(tags);
      for (const Uuid* u : {&e.id, &e.causation_id, &e.correlation_id}) {
        ArrayBuilder& a = u == &e.id             ? e_id
                          : u == &e.causation_id ? e_cause
                                                 : e_corr;
        if (u->empty()) {
          a.AddNull();
        } else {
          uint8_t b[16];
          UuidBytes(*u, b);
          a.AddUuid(b);
        }
      }
      e_meta.AddBytes(e.metadata);
      e_crc.AddInt64(EventCrc(now, e.type, e.schema_version, e.payload, tags,
                              e.id, e.causation_id, e.correlation_id,
                              e.metadata));
      for (const std::string& t : e.tags) {
        t_tag.AddBytes(t);
        t_event.AddInt32(event);
      }
    }
  };
  int32_t group = 0;
  for (auto& op : batch) {
    switch (op->kind) {
      case Op::Kind::kAppend:
        add_append(op->requests[0], 0, nullptr);
        break;
      case Op::Kind::kAppendWithSnapshot:
        add_append(op->requests[0], 0, &op->snapshot);
        break;
      case Op::Kind::kMulti:
        ++group;
        for (const StreamAppend& r : op->requests)
          add_append(r, group, nullptr);
        break;
      case Op::Kind::kSave:
        ++req;
        r_kind.AddInt32(1);
        r_stream.AddBytes(op->save_stream);
        r_group.AddInt32(0);
        r_expect.AddInt64(ClampSeq(op->save_seq));  // above any head
        r_nevents.AddInt32(0);
        r_off.AddInt32(event);
        r_snap.AddInt32(add_snapshot(op->snapshot));
        r_first_id.AddNull();
        break;
      case Op::Kind::kAlone:
        break;
    }
  }
  Params p;
  p.Int64(now);
  p.Int64(static_cast<int64_t>(options_.idempotency_window));
  p.Array(kInt4ArrayOid, r_kind.Finish());
  p.Array(kTextArrayOid, r_stream.Finish());
  p.Array(kInt4ArrayOid, r_group.Finish());
  p.Array(kInt8ArrayOid, r_expect.Finish());
  p.Array(kInt4ArrayOid, r_nevents.Finish());
  p.Array(kInt4ArrayOid, r_off.Finish());
  p.Array(kInt4ArrayOid, r_snap.Finish());
  p.Array(kUuidArrayOid, r_first_id.Finish());
  p.Array(kInt4ArrayOid, e_req.Finish());
  p.Array(kInt4ArrayOid, e_k.Finish());
  p.Array(kByteaArrayOid, e_type.Finish());
  p.Array(kInt4ArrayOid, e_schema.Finish());
  p.Array(kByteaArrayOid, e_payload.Finish());
  p.Array(kByteaArrayOid, e_tags.Finish());
  p.Array(kUuidArrayOid, e_id.Finish());
  p.Array(kUuidArrayOid, e_cause.Finish());
  p.Array(kUuidArrayOid, e_corr.Finish());
  p.Array(kByteaArrayOid, e_meta.Finish());
  p.Array(kInt8ArrayOid, e_crc.Finish());
  p.Array(kByteaArrayOid, t_tag.Finish());
  p.Array(kInt4ArrayOid, t_event.Finish());
  p.Array(kByteaArrayOid, s_type.Finish());
  p.Array(kInt4ArrayOid, s_schema.Finish());
  p.Array(kByteaArrayOid, s_payload.Finish());
  p.Array(kByteaArrayOid, s_meta.Finish());
  p.Array(kInt8ArrayOid, s_crc.Finish());
  const std::string sql = fmt::format(
      "SELECT o_status, o_head, o_seq, o_pos FROM {}.append($1, $2, $3, $4, "
      "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, "
      "$20, $21, $22, $23, $24, $25, $26, $27, $28)",
      pg_.schema);
  Rows rows;
  Fate fate = Fate::kDone;
  call_sent_ = true;
  // A deadlock or serialization failure rolled the call back: run it again.
  for (int attempt = 0;; ++attempt) {
    s = wconn_->Exec("group commit", sql, &p, &rows, &fate);
    if (s.ok() || !s.IsBusy() || attempt == 5) break;
  }
  if (!s.ok()) {
    if (fate == Fate::kUnknown) {
      s = Status::UnknownOutcome(fmt::format(
          "store {}: the connection was lost before PostgreSQL answered the "
          "commit ({}); it may or may not have committed. A retry with the "
          "same exact expectation (Expected::At) is safe: it commits once or "
          "conflicts; with Expected::Any or Exists, only events with ids are "
          "recognised as a repeat",
          display_, s.message()));
    } else if (fate == Fate::kNotSent || s.IsIOError()) {
      s = Status::IOError(fmt::format("store {}: {}; nothing was written",
                                      display_, s.message()));
    }
    if (wconn_->broken()) wconn_.reset();
    for (auto& op : batch) op->Fail(s);
    return;
  }
  // Four int arrays, in binary: header, then (length, value) per element.
  auto decode = [&](int col, bool wide) {
    std::vector<int64_t> out;
    const std::string_view b = rows.Bytes(0, col);
    if (b.size() < 12) return out;
    const int32_t ndim = GetInt32(b.data());
    if (ndim == 0) return out;
    const int32_t n = GetInt32(b.data() + 12);
    const char* p2 = b.data() + 20;
    for (int32_t i = 0; i < n; ++i) {
      const int32_t len = GetInt32(p2);
      p2 += 4;
      out.push_back(wide ? GetInt64(p2) : GetInt32(p2));
      p2 += len;
    }
    return out;
  };
  const std::vector<int64_t> st = decode(0, false), head = decode(1, true),
                             seq = decode(2, true), pos = decode(3, true);
  if (st.size() != static_cast<size_t>(req) || head.size() != st.size() ||
      seq.size() != st.size() || pos.size() != st.size()) {
    s = Status::UnknownOutcome(fmt::format(
        "store {}: the group commit's answer has {} rows for {} requests; "
        "its outcome is unknown",
        display_, st.size(), req));
    for (auto& op : batch) op->Fail(s);
    return;
  }
  uint64_t last = 0;
  size_t i = 0;
  auto next = [&] {
    Row r{static_cast<int>(st[i]), static_cast<uint64_t>(head[i]),
          static_cast<uint64_t>(seq[i]), static_cast<uint64_t>(pos[i])};
    ++i;
    return r;
  };
  std::vector<std::pair<Op*, std::vector<Row>>> answers;
  for (auto& op : batch) {
    std::vector<Row> rs;
    if (op->kind == Op::Kind::kSave) {
      rs.push_back(next());
    } else {
      for (size_t k = 0; k < op->requests.size(); ++k) {
        rs.push_back(next());
        const Row& r = rs.back();
        if (r.status == kAppended) {
          last = std::max<uint64_t>(last,
                                    r.pos + op->requests[k].events.size() - 1);
        }
      }
    }
    answers.emplace_back(op.get(), std::move(rs));
  }
  commits_.fetch_add(1);
  write_requests_.fetch_add(batch.size());
  if (batch.size() > max_group_.load()) max_group_.store(batch.size());
  if (last > 0) NoteCommit(last);
  for (auto& [op, rs] : answers) {
    switch (op->kind) {
      case Op::Kind::kAppend:
      case Op::Kind::kAppendWithSnapshot: {
        const Row& r = rs[0];
        Status ps = PartStatus(op->requests[0], r);
        if (!ps.ok()) {
          Complete(op->append_done, Result<AppendResult>(ps));
        } else {
          Complete(op->append_done, Result<AppendResult>(ResultOf(
                                        r, op->requests[0].events.size())));
        }
        break;
      }
      case Op::Kind::kMulti: {
        std::vector<AppendResult> results;
        Status deleted, other;
        std::string conflicts;
        size_t conflict_count = 0, repeats = 0;
        uint64_t first_actual = 0;
        for (size_t k = 0; k < rs.size(); ++k) {
          const StreamAppend& q = op->requests[k];
          const Row& r = rs[k];
          if (r.status == kRepeat) ++repeats;
          if (r.status == kDeleted && deleted.ok()) deleted = PartStatus(q, r);
          if (r.status == kPartialRepeat && other.ok())
            other = PartStatus(q, r);
          if (r.status == kConflict) {
            if (conflict_count++ == 0) {
              first_actual = r.head;
            } else {
              conflicts += "; ";
            }
            conflicts +=
                fmt::format("stream '{}': expected {}, but {}", q.stream,
                            Expectation(q.expected), HeadText(r.head));
          }
          results.push_back(ResultOf(r, q.events.size()));
        }
        Result<std::vector<AppendResult>> out(std::move(results));
        if (!deleted.ok()) {
          out = deleted;
        } else if (!other.ok()) {
          out = other;
        } else if (conflict_count == 1) {
          out = Status::Conflict(
              fmt::format("{}; reload the stream and retry", conflicts),
              first_actual);
        } else if (conflict_count > 1) {
          out = Status::Conflict(
              fmt::format("{} streams are not where the request expected: "
                          "{}; reload them and retry",
                          conflict_count, conflicts),
              first_actual);
        } else if (repeats > 0 && repeats < rs.size()) {
          out = Status::Conflict(
              fmt::format("{} of the {} streams of this multi-stream append "
                          "already hold its events (by their ids) and the "
                          "others do not; a retry must resend exactly the "
                          "original request",
                          repeats, rs.size()),
              rs[0].head);
        }
        Complete(op->multi_done, std::move(out));
        break;
      }
      case Op::Kind::kSave: {
        const Row& r = rs[0];
        Status ss;
        if (r.status == kDeleted) {
          ss = Status::StreamDeleted(fmt::format(
              "stream '{}' was deleted; its snapshots cannot be changed",
              op->save_stream));
        } else if (r.status == kNoStream) {
          ss = Status::NotFound(
              fmt::format("stream '{}' does not exist", op->save_stream));
        } else if (r.status == kAboveHead) {
          ss = Status::InvalidArgument(fmt::format(
              "snapshot of stream '{}' at seq {} is above its head {}",
              op->save_stream, op->save_seq, r.head));
        }
        Complete(op->save_done, ss);
        break;
      }
      case Op::Kind::kAlone:
        break;
    }
    // Answered: an exception past this point must not answer it again.
    for (auto& owned : batch) {
      if (owned.get() == op) owned.reset();
    }
  }
}

Result<PostgresStoreInfo> PgStore::Inspect() {
  PostgresStoreInfo info;
  info.store = display_;
  info.schema = pg_.schema;
  Status s = Read([&](Conn& c) -> Status {
    Params p;
    p.Text(pg_.schema);
    Rows rows;
    Status st = c.Exec(
        "inspect the store",
        fmt::format(
            "SELECT m.format_version, m.last_position, (SELECT count(*) FROM "
            "{0}.streams), (SELECT count(*) FROM {0}.streams WHERE deleted), "
            "(SELECT coalesce(sum(event_count), 0)::bigint FROM {0}.streams), "
            "(SELECT count(*) FROM {0}.snapshots), (SELECT "
            "coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM "
            "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
            "n.nspname = $1 AND c.relkind = 'r'), "
            "current_setting('server_version'), "
            "current_setting('synchronous_commit'), "
            "current_setting('synchronous_standby_names') FROM {0}.meta m "
            "WHERE m.id = 1",
            pg_.schema),
        &p, &rows);
    if (!st.ok()) return st;
    if (rows.size() != 1) {
      return Status::Corruption(
          fmt::format("{}: table {}.meta has no row; the store is damaged",
                      display_, pg_.schema));
    }
    info.format_version = static_cast<uint32_t>(rows.Int32(0, 0));
    info.last_position = static_cast<uint64_t>(rows.Int64(0, 1));
    info.streams = static_cast<uint64_t>(rows.Int64(0, 2));
    info.deleted_streams = static_cast<uint64_t>(rows.Int64(0, 3));
    info.events = static_cast<uint64_t>(rows.Int64(0, 4));
    info.snapshots = static_cast<uint64_t>(rows.Int64(0, 5));
    info.bytes = static_cast<uint64_t>(rows.Int64(0, 6));
    info.server_version = std::string(rows.Bytes(0, 7));
    info.synchronous_commit = std::string(rows.Bytes(0, 8));
    info.synchronous_standby_names = std::string(rows.Bytes(0, 9));
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (options_.durability != Durability::kSync) {
    info.synchronous_commit = "off (for this store's writer: durability)";
  }
  return info;
}

Status PgStore::Read(const std::function<Status(Conn&)>& fn,
                     const bool* delivered) {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Conn> c;
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!pool_.empty()) {
        c = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    if (!c || !c->Alive()) {
      Status s = Connect(&c, false);
      if (!s.ok()) return s;
    }
    Status s = fn(*c);
    if (c->broken()) {
      // Lost before the answer: a read is safe to repeat, once, if nothing
      // of it reached the caller.
      if (attempt == 0 && s.IsIOError() &&
          (delivered == nullptr || !*delivered)) {
        continue;
      }
      return s;
    }
    if (PQtransactionStatus(c->raw()) != PQTRANS_IDLE) {
      (void)c->Simple("end the read", "ROLLBACK");
    }
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (pool_.size() < pg_.max_idle_read_connections) {
      pool_.push_back(std::move(c));
    }
    return s;
  }
}

void PgStore::NoteCommit(uint64_t last_position) {
  uint64_t cur = known_position_.load();
  while (cur < last_position &&
         !known_position_.compare_exchange_weak(cur, last_position)) {
  }
  { std::lock_guard<std::mutex> lock(wait_mu_); }
  wait_cv_.notify_all();
}

void PgStore::WakeWaiters() {
  // Under the lock, so that a waiter between its look at the flag and its
  // wait cannot miss the notification.
  { std::lock_guard<std::mutex> lock(wait_mu_); }
  wait_cv_.notify_all();
}

void PgStore::StartListener() {
  std::call_once(listener_once_,
                 [this] { listener_ = std::thread([this] { ListenLoop(); }); });
}

void PgStore::StopListener() {
  listener_stop_ = true;
  if (listener_.joinable()) listener_.join();
}

// LISTENs on the store's channel and turns notifications into wake-ups. A
// notification is only a hint (waiters read the position from the table);
// a lost connection is retried every second, and the waiters' own poll
// covers the gap.
void PgStore::ListenLoop() {
  std::unique_ptr<Conn> c;
  auto last_attempt = Clock_::time_point{};
  while (!listener_stop_) {
    if (!c || c->broken()) {
      c.reset();
      if (Clock_::now() - last_attempt < std::chrono::seconds(1)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      last_attempt = Clock_::now();
      if (!Connect(&c, false).ok() ||
          !c->Simple("listen",
                     fmt::format("LISTEN \"{}\"", NotifyChannel(pg_.schema)))
               .ok()) {
        c.reset();
        continue;
      }
    }
    pollfd fd{c->socket(), POLLIN, 0};
    const int n = poll(&fd, 1, 50);
    if (n <= 0) continue;
    if (PQconsumeInput(c->raw()) == 0) {
      c.reset();
      continue;
    }
    uint64_t best = 0;
    while (PGnotify* note = PQnotifies(c->raw())) {
      uint64_t v = 0;
      const std::string_view text(note->extra);
      std::from_chars(text.data(), text.data() + text.size(), v);
      best = std::max(best, v);
      PQfreemem(note);
    }
    if (best > 0) NoteCommit(best);
  }
}

Result<uint64_t> PgStore::WaitForCommit(uint64_t after,
                                        std::chrono::milliseconds timeout,
                                        const std::atomic<bool>* cancel) {
  StartListener();
  if (cancel != nullptr && cancel->load()) return known_position_.load();
  const auto deadline = Clock_::now() + timeout;
  Result<uint64_t> now_at = journal_.LastPosition();
  if (!now_at.ok()) return now_at;
  NoteCommit(*now_at);
  std::unique_lock<std::mutex> lock(wait_mu_);
  for (;;) {
    const uint64_t known = known_position_.load();
    if (known > after) return known;
    // A set flag ends the wait whenever the waiter looks at it, woken by
    // WakeCommitWaiters or not: it is only ever set to stop.
    if (cancel != nullptr && cancel->load()) return known;
    const auto t = Clock_::now();
    if (t >= deadline) return known;
    // The safety poll: a notification may be lost (a reconnect of the
    // listener), so the position is read again at least every 100 ms.
    const auto until = std::min(deadline, t + std::chrono::milliseconds(100));
    if (wait_cv_.wait_until(lock, until) == std::cv_status::timeout) {
      lock.unlock();
      Result<uint64_t> polled = journal_.LastPosition();
      lock.lock();
      if (polled.ok()) {
        lock.unlock();
        NoteCommit(*polled);
        lock.lock();
      }
    }
  }
}

// --- Reading events -----------------------------------------------------

// The columns every event read selects, in this order.
constexpr const char* kEventColumns =
    "e.position, s.name, e.seq, e.ts_ns, e.type, e.schema_version, "
    "e.payload, e.tags, e.event_id, e.causation_id, e.correlation_id, "
    "e.metadata, e.crc";

// What the views of a read point into besides the rows: each event's tag
// list, and a 16-byte-aligned copy of each payload that libpq's buffer has
// at another alignment (so that FlatBuffers can read it in place, as from
// an LMDB store).
struct ViewScratch {
  std::deque<std::vector<std::string_view>> tags;
  std::deque<std::unique_ptr<std::max_align_t[]>> payloads;
  void Clear() {
    tags.clear();
    payloads.clear();
  }
  std::string_view Aligned(std::string_view payload) {
    if (reinterpret_cast<uintptr_t>(payload.data()) % 16 == 0) return payload;
    const size_t words = (payload.size() + sizeof(std::max_align_t) - 1) /
                             sizeof(std::max_align_t) +
                         1;
    payloads.push_back(std::make_unique<std::max_align_t[]>(words));
    char* to = reinterpret_cast<char*>(payloads.back().get());
    std::memcpy(to, payload.data(), payload.size());
    return {to, payload.size()};
  }
};

// Visits `rows` as events (skipping a row without one: a stream's row from
// an outer join), checking each checksum; `*stopped` when the visitor
// returned false. The views stay valid while `rows` and `scratch` live.
Status VisitRows(const Rows& rows, int col0, const EventVisitor& visit,
                 ViewScratch* scratch, size_t* visited, bool* stopped) {
  for (int i = 0; i < rows.size(); ++i) {
    if (rows.null(i, col0)) continue;  // a stream row without events
    EventView v;
    v.position = static_cast<uint64_t>(rows.Int64(i, col0));
    v.stream = rows.Bytes(i, col0 + 1);
    v.seq = static_cast<uint64_t>(rows.Int64(i, col0 + 2));
    v.timestamp_ns = rows.Int64(i, col0 + 3);
    v.type = rows.Bytes(i, col0 + 4);
    v.schema_version = static_cast<uint32_t>(rows.Int32(i, col0 + 5));
    v.payload = rows.Bytes(i, col0 + 6);
    const std::string_view blob = rows.Bytes(i, col0 + 7);
    scratch->tags.emplace_back();
    SplitTags(blob, &scratch->tags.back());
    v.tags = scratch->tags.back();
    uint8_t b[16];
    rows.Uuid16(i, col0 + 8, b);
    v.id = UuidFrom(b);
    rows.Uuid16(i, col0 + 9, b);
    v.causation_id = UuidFrom(b);
    rows.Uuid16(i, col0 + 10, b);
    v.correlation_id = UuidFrom(b);
    v.metadata = rows.Bytes(i, col0 + 11);
    const int64_t stored = rows.Int64(i, col0 + 12);
    const int64_t computed =
        EventCrc(v.timestamp_ns, v.type, v.schema_version, v.payload, blob,
                 v.id, v.causation_id, v.correlation_id, v.metadata);
    if (stored != computed) {
      return Status::Corruption(fmt::format(
          "event {}#{} at position {} fails its checksum (stored {:016x}, "
          "computed {:016x}): its row was changed outside memoir or damaged; "
          "restore it from a backup or a standby",
          v.stream, v.seq, v.position, static_cast<uint64_t>(stored),
          static_cast<uint64_t>(computed)));
    }
    v.payload = scratch->Aligned(v.payload);
    ++*visited;
    if (!visit(v)) {
      *stopped = true;
      return Status::OK();
    }
  }
  return Status::OK();
}

// Rows per page of a paged read: reads ask for at most this many rows per
// statement, so a read of a huge range holds one page at a time.
constexpr size_t kPageRows = 512;

// Runs a paged event read: `query(conn, from_key, limit, rows)` reads the
// next page after `from_key` (the last row's key: position or seq), and
// `key(rows, i)` gives a row's key. More than one page runs in one
// REPEATABLE READ transaction. With `keep`, every page's rows stay alive
// until `then` has run.
Status PagedRead(
    PgStore* store, size_t max_count,
    const std::function<Status(Conn&, bool first, size_t limit, Rows*)>& page,
    int col0, const EventVisitor& visit, const std::function<void()>& then,
    const std::function<Status(const Rows&)>& check_first = nullptr) {
  // Once the visitor has seen an event, a lost connection ends the read:
  // repeating it would show the caller events twice (and free the views
  // it keeps until `then`).
  bool delivered = false;
  return store->Read(
      [&](Conn& c) -> Status {
        bool in_txn = false;
        if (max_count > kPageRows) {
          Status s =
              c.Simple("begin a read",
                       "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
          if (!s.ok()) return s;
          in_txn = true;
        }
        std::vector<Rows> kept;
        ViewScratch scratch;
        size_t visited = 0;
        bool first = true;
        Status result;
        for (;;) {
          const size_t want = std::min(max_count - visited, kPageRows);
          Rows rows;
          Status s = page(c, first, want, &rows);
          if (!s.ok()) {
            result = s;
            break;
          }
          if (first && check_first) {
            s = check_first(rows);
            if (!s.ok()) {
              result = s;
              break;
            }
          }
          first = false;
          size_t before = visited;
          bool stopped = false;
          if (!then) scratch.Clear();
          s = VisitRows(rows, col0, visit, &scratch, &visited, &stopped);
          delivered = delivered || visited > 0;
          if (then) kept.push_back(rows);
          if (!s.ok()) {
            result = s;
            break;
          }
          if (stopped || visited - before < want || visited >= max_count) break;
        }
        if (result.ok() && then) then();
        if (in_txn) (void)c.Simple("end a read", "COMMIT");
        return result;
      },
      &delivered);
}

// --- Journal ----------------------------------------------------------------

void PgJournal::Append(StreamAppend request, AppendCallback done) {
  Status s = store_->RefuseWrites();
  if (s.ok()) s = ValidateAppendRequest(request);
  if (s.ok()) s = CheckForPostgres(request);
  if (!s.ok()) {
    Complete(done, Result<AppendResult>(s));
    return;
  }
  if (store_->options().generate_event_ids && request.events[0].id.empty()) {
    for (EventData& e : request.events) e.id = Uuid::Generate();
  }
  auto op = std::make_unique<Op>();
  op->kind = Op::Kind::kAppend;
  op->bytes = RequestBytes(request);
  op->requests.push_back(std::move(request));
  op->append_done = std::move(done);
  store_->Submit(std::move(op));
}

void PgJournal::AppendMulti(std::vector<StreamAppend> requests,
                            MultiAppendCallback done) {
  Status s = store_->RefuseWrites();
  if (s.ok() && requests.empty()) {
    s = Status::InvalidArgument(
        "a multi-stream append needs at least one "
        "stream");
  }
  std::unordered_set<std::string_view> names;
  size_t bytes = 0, multi_bytes = 0;
  for (StreamAppend& r : requests) {
    if (!s.ok()) break;
    s = ValidateAppendRequest(r);
    if (s.ok()) s = CheckForPostgres(r);
    if (s.ok()) {
      for (const EventData& e : r.events) {
        multi_bytes += e.payload.size() + e.metadata.size();
      }
      if (multi_bytes > kMaxPostgresRequestBytes) {
        s = Status::InvalidArgument(fmt::format(
            "a multi-stream append of more than {} bytes of payloads and "
            "metadata exceeds a PostgreSQL store's limit per request "
            "(kMaxPostgresRequestBytes); split it",
            kMaxPostgresRequestBytes));
      }
    }
    if (s.ok() && !names.insert(r.stream).second) {
      s = Status::InvalidArgument(fmt::format(
          "a multi-stream append names stream '{}' twice; put all its "
          "events in one request",
          r.stream));
    }
    if (s.ok() && store_->options().generate_event_ids &&
        r.events[0].id.empty()) {
      for (EventData& e : r.events) e.id = Uuid::Generate();
    }
    bytes += RequestBytes(r);
  }
  if (!s.ok()) {
    Complete(done, Result<std::vector<AppendResult>>(s));
    return;
  }
  auto op = std::make_unique<Op>();
  op->kind = Op::Kind::kMulti;
  op->bytes = bytes;
  op->requests = std::move(requests);
  op->multi_done = std::move(done);
  store_->Submit(std::move(op));
}

// The stream's row, locked, in the writer's transaction: id, head,
// deleted_to, deleted, event_count. kNotFound / kStreamDeleted as the
// contract says; `tombstone_ok` lets a deleted stream through.
struct LockedStream {
  int64_t id = 0;
  uint64_t head = 0;
  uint64_t deleted_to = 0;
  bool deleted = false;
};

Status LockStream(Conn& c, const std::string& schema, std::string_view stream,
                  LockedStream* out) {
  Params p;
  p.Text(stream);
  Rows rows;
  Status s = c.Exec("lock the stream",
                    fmt::format("SELECT stream_id, head, deleted_to, deleted "
                                "FROM {}.streams WHERE name = $1 FOR UPDATE",
                                schema),
                    &p, &rows);
  if (!s.ok()) return s;
  if (rows.size() == 0) {
    return Status::NotFound(fmt::format("stream '{}' does not exist", stream));
  }
  out->id = rows.Int64(0, 0);
  out->head = static_cast<uint64_t>(rows.Int64(0, 1));
  out->deleted_to = static_cast<uint64_t>(rows.Int64(0, 2));
  out->deleted = rows.Bool(0, 3);
  return Status::OK();
}

// Runs `body` in a transaction on the writer's connection; a COMMIT that
// gets no answer is an unknown outcome.
Status InTransaction(Conn& c, const std::function<Status()>& body) {
  Status s = c.Simple("begin", "BEGIN");
  if (!s.ok()) return s;
  s = body();
  if (!s.ok()) {
    if (!c.broken()) (void)c.Simple("roll back", "ROLLBACK");
    return s;
  }
  Fate fate = Fate::kDone;
  s = c.Exec("commit", "COMMIT", nullptr, nullptr, &fate);
  if (!s.ok() && fate == Fate::kUnknown) {
    return Status::UnknownOutcome(fmt::format(
        "the connection was lost before PostgreSQL answered the commit ({}); "
        "it may or may not have committed",
        s.message()));
  }
  return s;
}

// A write of one stream's row and what hangs off it, alone on the writer's
// connection in one transaction: checks that the caller may write and that
// the name is valid, locks the row, and refuses a missing stream
// (kNotFound, or `missing` when given), a tombstoned one (kStreamDeleted
// saying `deleted`) and, with `expected_head` set, one at another head
// (kConflict, saying the stream was `unchanged`); then runs `body`.
Status WriteLiveStream(
    PgStore* store, std::string_view stream,
    std::optional<uint64_t> expected_head, std::string_view deleted,
    std::string_view unchanged, std::string_view missing,
    const std::function<Status(Conn&, const LockedStream&)>& body) {
  Status s = store->RefuseWrites();
  if (s.ok()) s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  const std::string name(stream);
  return store->RunAlone([&](Conn& c, int64_t) {
    return InTransaction(c, [&]() -> Status {
      LockedStream ls;
      Status st = LockStream(c, store->schema(), name, &ls);
      if (st.IsNotFound() && !missing.empty()) {
        return Status::NotFound(fmt::format("stream '{}' {}", name, missing));
      }
      if (!st.ok()) return st;
      if (ls.deleted) {
        return Status::StreamDeleted(
            fmt::format("stream '{}' {}", name, deleted));
      }
      if (expected_head && *expected_head != ls.head) {
        return Status::Conflict(
            fmt::format("stream '{}': expected head {}, but {}; {}", name,
                        *expected_head, HeadText(ls.head), unchanged),
            ls.head);
      }
      return body(c, ls);
    });
  });
}

Status PgJournal::DeleteTo(std::string_view stream, uint64_t seq,
                           const DeleteOptions& options) {
  const std::string& schema = store_->schema();
  return WriteLiveStream(
      store_, stream, options.expected_head, "was deleted",
      "nothing was deleted", "",
      [&](Conn& c, const LockedStream& ls) -> Status {
        uint64_t upto = seq;
        if (upto > ls.head) {
          if (!options.clamp_to_head) {
            return Status::InvalidArgument(fmt::format(
                "cannot delete stream '{}' up to seq {}: its head is {} (set "
                "DeleteOptions::clamp_to_head to delete up to the head)",
                stream, seq, ls.head));
          }
          upto = ls.head;
        }
        if (upto <= ls.deleted_to) return Status::OK();
        Params p;
        p.Int64(ls.id);
        p.Int64(static_cast<int64_t>(upto));
        Rows rows;
        return c.Exec(
            "delete events",
            fmt::format(
                "WITH d AS (DELETE FROM {0}.events WHERE stream_id = $1 AND "
                "seq <= $2 RETURNING position), t AS (DELETE FROM "
                "{0}.event_tags WHERE position IN (SELECT position FROM d)) "
                "UPDATE {0}.streams SET deleted_to = $2, event_count = "
                "event_count - (SELECT count(*) FROM d) WHERE stream_id = $1",
                schema),
            &p, &rows);
      });
}

Status PgJournal::DeleteStream(std::string_view stream,
                               const DeleteOptions& options) {
  const std::string& schema = store_->schema();
  return WriteLiveStream(
      store_, stream, options.expected_head, "was already deleted",
      "nothing was deleted", "",
      [&](Conn& c, const LockedStream& ls) -> Status {
        Params p;
        p.Int64(ls.id);
        Rows rows;
        return c.Exec(
            "delete the stream",
            fmt::format(
                "WITH d AS (DELETE FROM {0}.events WHERE stream_id = $1 "
                "RETURNING position), t AS (DELETE FROM {0}.event_tags WHERE "
                "position IN (SELECT position FROM d)), n AS (DELETE FROM "
                "{0}.snapshots WHERE stream_id = $1) UPDATE {0}.streams SET "
                "deleted = true, event_count = 0, deleted_to = head, "
                "metadata = NULL, metadata_crc = NULL WHERE stream_id = $1",
                schema),
            &p, &rows);
      });
}

Status PgJournal::Scan(std::string_view stream, const ReadOptions& options,
                       const EventVisitor& visit) {
  Status s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  if (options.max_count == 0 || options.from_seq > options.to_seq) {
    // Still a read: a missing or deleted stream is reported.
    Result<StreamInfo> info = GetStream(stream);
    if (!info.ok()) return info.status();
    if (info->deleted) {
      return Status::StreamDeleted(
          fmt::format("stream '{}' was deleted", stream));
    }
    return Status::OK();
  }
  const std::string& schema = store_->schema();
  const size_t span =
      options.to_seq - std::max<uint64_t>(options.from_seq, 1) < kPageRows
          ? static_cast<size_t>(options.to_seq -
                                std::max<uint64_t>(options.from_seq, 1) + 1)
          : SIZE_MAX;
  const size_t max_count = std::min(options.max_count, span);
  uint64_t lo = std::max<uint64_t>(options.from_seq, 1), hi = options.to_seq;
  const std::string sql = fmt::format(
      "SELECT s.stream_id, s.deleted, {1} FROM {0}.streams s LEFT JOIN "
      "LATERAL (SELECT * FROM {0}.events e WHERE e.stream_id = s.stream_id "
      "AND e.seq BETWEEN $2 AND $3 ORDER BY e.seq {2} LIMIT $4) e ON true "
      "WHERE s.name = $1 ORDER BY e.seq {2}",
      schema,
      "e.position, s.name, e.seq, e.ts_ns, e.type, e.schema_version, "
      "e.payload, e.tags, e.event_id, e.causation_id, e.correlation_id, "
      "e.metadata, e.crc",
      options.backward ? "DESC" : "ASC");
  return PagedRead(
      store_, max_count,
      [&](Conn& c, bool, size_t limit, Rows* rows) -> Status {
        Params p;
        p.Text(stream);
        p.Int64(static_cast<int64_t>(std::min<uint64_t>(lo, INT64_MAX)));
        p.Int64(static_cast<int64_t>(std::min<uint64_t>(hi, INT64_MAX)));
        p.Int64(static_cast<int64_t>(limit));
        Status st = c.Exec("read a stream", sql, &p, rows);
        if (!st.ok()) return st;
        // The next page starts after this one's last seq.
        for (int i = rows->size() - 1; i >= 0; --i) {
          if (rows->null(i, 2)) continue;
          const auto last = static_cast<uint64_t>(rows->Int64(i, 4));
          if (options.backward) {
            hi = last == 0 ? 0 : last - 1;
          } else {
            lo = last + 1;
          }
          break;
        }
        return Status::OK();
      },
      2, visit, nullptr,
      [&](const Rows& rows) -> Status {
        if (rows.size() == 0) {
          return Status::NotFound(
              fmt::format("stream '{}' does not exist", stream));
        }
        if (rows.Bool(0, 1)) {
          return Status::StreamDeleted(
              fmt::format("stream '{}' was deleted", stream));
        }
        return Status::OK();
      });
}

StreamInfo InfoFrom(const Rows& rows, int i) {
  StreamInfo info;
  info.name = std::string(rows.Bytes(i, 0));
  info.id = static_cast<uint64_t>(rows.Int64(i, 1));
  info.head = static_cast<uint64_t>(rows.Int64(i, 2));
  info.deleted_to = static_cast<uint64_t>(rows.Int64(i, 3));
  info.event_count = static_cast<uint64_t>(rows.Int64(i, 4));
  info.deleted = rows.Bool(i, 5);
  info.created_ns = rows.Int64(i, 6);
  info.last_write_ns = rows.Int64(i, 7);
  return info;
}

constexpr const char* kStreamColumns =
    "name, stream_id, head, deleted_to, event_count, deleted, created_ns, "
    "last_write_ns";

Result<StreamInfo> PgJournal::GetStream(std::string_view stream) {
  Status s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  StreamInfo info;
  s = store_->Read([&](Conn& c) -> Status {
    Params p;
    p.Text(stream);
    Rows rows;
    Status st = c.Exec("read a stream's row",
                       fmt::format("SELECT {} FROM {}.streams WHERE name = $1",
                                   kStreamColumns, store_->schema()),
                       &p, &rows);
    if (!st.ok()) return st;
    if (rows.size() == 0) {
      return Status::NotFound(
          fmt::format("stream '{}' does not exist", stream));
    }
    info = InfoFrom(rows, 0);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return info;
}

Result<uint64_t> PgJournal::Head(std::string_view stream) {
  Result<StreamInfo> info = GetStream(stream);
  if (!info.ok()) {
    if (info.status().IsNotFound()) return uint64_t{0};
    return info.status();
  }
  if (info->deleted) {
    return Status::StreamDeleted(
        fmt::format("stream '{}' was deleted", stream));
  }
  return info->head;
}

Status PgJournal::SetStreamMetadata(std::string_view stream,
                                    std::string_view metadata,
                                    std::optional<uint64_t> expected_head) {
  if (metadata.size() > kMaxMetadataBytes) {
    return Status::InvalidArgument(
        fmt::format("metadata of stream '{}': {} bytes exceeds the limit of {}",
                    stream, metadata.size(), kMaxMetadataBytes));
  }
  const std::string bytes(metadata);
  const std::string& schema = store_->schema();
  return WriteLiveStream(
      store_, stream, expected_head, "was deleted",
      "the metadata was left as it is",
      "does not exist; append to it before setting its metadata",
      [&](Conn& c, const LockedStream& ls) -> Status {
        Params p;
        p.Int64(ls.id);
        if (bytes.empty()) {
          p.Null(kByteaOid);
          p.Null(kInt8Oid);
        } else {
          p.Bytea(bytes);
          p.Int64(MetadataCrc(bytes));
        }
        Rows rows;
        return c.Exec("set the stream's metadata",
                      fmt::format("UPDATE {}.streams SET metadata = $2, "
                                  "metadata_crc = $3 WHERE stream_id = $1",
                                  schema),
                      &p, &rows);
      });
}

Result<std::string> PgJournal::GetStreamMetadata(std::string_view stream) {
  Status s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  std::string out;
  s = store_->Read([&](Conn& c) -> Status {
    Params p;
    p.Text(stream);
    Rows rows;
    Status st = c.Exec(
        "read the stream's metadata",
        fmt::format("SELECT deleted, metadata, metadata_crc FROM {}.streams "
                    "WHERE name = $1",
                    store_->schema()),
        &p, &rows);
    if (!st.ok()) return st;
    if (rows.size() == 0) {
      return Status::NotFound(
          fmt::format("stream '{}' does not exist", stream));
    }
    if (rows.Bool(0, 0)) {
      return Status::StreamDeleted(
          fmt::format("stream '{}' was deleted", stream));
    }
    if (rows.null(0, 1)) return Status::OK();
    out = std::string(rows.Bytes(0, 1));
    if (rows.null(0, 2) || rows.Int64(0, 2) != MetadataCrc(out)) {
      return Status::Corruption(fmt::format(
          "the metadata of stream '{}' fails its checksum: its row was "
          "changed outside memoir or damaged",
          stream));
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  return out;
}

Result<StreamPage> PgJournal::ListStreams(const ListStreamsOptions& options) {
  if (options.limit == 0) {
    return Status::InvalidArgument(
        "listing streams with a limit of 0 would return nothing forever; use "
        "a limit of at least 1");
  }
  const bool by_creation =
      options.order == ListStreamsOptions::Order::kCreation;
  int64_t after_id = 0;
  if (by_creation && !options.start_after.empty()) {
    const std::string& t = options.start_after;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), after_id);
    if (ec != std::errc() || ptr != t.data() + t.size() || after_id < 0) {
      return Status::InvalidArgument(fmt::format(
          "'{}' is not a token that ListStreams gave in creation order", t));
    }
  }
  StreamPage page;
  Status s = store_->Read([&](Conn& c) -> Status {
    Params p;
    p.Text(options.prefix);
    if (by_creation) {
      p.Int64(after_id);
    } else {
      p.Text(options.start_after);
    }
    p.Int64(static_cast<int64_t>(
        std::min<size_t>(options.limit, INT64_MAX - 1) + 1));
    const std::string sql = fmt::format(
        "SELECT {}, coalesce(creation, 0), {} FROM {}.streams WHERE "
        "starts_with(name, $1) AND {} ORDER BY {} LIMIT $3",
        kStreamColumns,
        options.count_total
            ? fmt::format("(SELECT count(*) FROM {}.streams WHERE "
                          "starts_with(name, $1))",
                          store_->schema())
            : std::string("0::bigint"),
        store_->schema(),
        by_creation ? "creation > $2" : "name >= $1 AND name > $2",
        by_creation ? "creation" : "name");
    Rows rows;
    Status st = c.Exec("list streams", sql, &p, &rows);
    if (!st.ok()) return st;
    const size_t n = std::min(static_cast<size_t>(rows.size()), options.limit);
    for (size_t i = 0; i < n; ++i) {
      page.streams.push_back(InfoFrom(rows, static_cast<int>(i)));
    }
    if (static_cast<size_t>(rows.size()) > options.limit) {
      // Creation order pages on the creation number, granted under the
      // position counter's lock: in commit order, so a stream another
      // writer creates later can never land before a token already given.
      page.next = by_creation
                      ? std::to_string(rows.Int64(static_cast<int>(n) - 1, 8))
                      : page.streams.back().name;
    }
    if (options.count_total) {
      if (rows.size() > 0) {
        page.total = static_cast<uint64_t>(rows.Int64(0, 9));
      } else {
        // Past the last page: count on its own.
        Params q;
        q.Text(options.prefix);
        Rows count;
        st = c.Exec("count streams",
                    fmt::format("SELECT count(*) FROM {}.streams WHERE "
                                "starts_with(name, $1)",
                                store_->schema()),
                    &q, &count);
        if (!st.ok()) return st;
        page.total = static_cast<uint64_t>(count.Int64(0, 0));
      }
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  return page;
}

// ScanAll, ScanTag and ScanType: events in position order, from `from`.
Status ScanByPosition(PgStore* store, const std::string& where,
                      const std::function<void(Params*)>& bind,
                      uint64_t from_position, size_t max_count,
                      const EventVisitor& visit,
                      const std::function<void()>& then,
                      const std::string& join = "") {
  if (max_count == 0) {
    if (then) then();
    return Status::OK();
  }
  uint64_t from = std::max<uint64_t>(from_position, 1);
  const std::string sql = fmt::format(
      "SELECT {1} FROM {0}.events e {3}JOIN {0}.streams s ON s.stream_id = "
      "e.stream_id WHERE e.position >= $1 {2} ORDER BY e.position LIMIT $2",
      store->schema(), kEventColumns, where, join);
  return PagedRead(
      store, max_count,
      [&](Conn& c, bool, size_t limit, Rows* rows) -> Status {
        Params p;
        p.Int64(static_cast<int64_t>(std::min<uint64_t>(from, INT64_MAX)));
        p.Int64(static_cast<int64_t>(limit));
        if (bind) bind(&p);
        Status st = c.Exec("read the log", sql, &p, rows);
        if (st.ok() && rows->size() > 0) {
          from = static_cast<uint64_t>(rows->Int64(rows->size() - 1, 0)) + 1;
        }
        return st;
      },
      0, visit, then);
}

Status PgJournal::ScanAllThen(uint64_t from_position, size_t max_count,
                              const EventVisitor& visit,
                              const std::function<void()>& then) {
  return ScanByPosition(store_, "", nullptr, from_position, max_count, visit,
                        then);
}

Status PgJournal::ScanAllBackward(uint64_t from_position, size_t max_count,
                                  const EventVisitor& visit) {
  if (max_count == 0 || from_position == 0) return Status::OK();
  uint64_t top = from_position;
  const std::string sql = fmt::format(
      "SELECT {1} FROM {0}.events e JOIN {0}.streams s ON s.stream_id = "
      "e.stream_id WHERE e.position <= $1 ORDER BY e.position DESC LIMIT $2",
      store_->schema(), kEventColumns);
  return PagedRead(
      store_, max_count,
      [&](Conn& c, bool, size_t limit, Rows* rows) -> Status {
        Params p;
        p.Int64(static_cast<int64_t>(std::min<uint64_t>(top, INT64_MAX)));
        p.Int64(static_cast<int64_t>(limit));
        Status st = c.Exec("read the log backward", sql, &p, rows);
        if (st.ok() && rows->size() > 0) {
          top = static_cast<uint64_t>(rows->Int64(rows->size() - 1, 0)) - 1;
        }
        return st;
      },
      0, visit, nullptr);
}

Status PgJournal::ScanTag(std::string_view tag, uint64_t from_position,
                          size_t max_count, const EventVisitor& visit) {
  if (tag.empty() || tag.size() > kMaxTagBytes ||
      tag.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("a tag must be 1 to {} bytes without NUL", kMaxTagBytes));
  }
  const std::string t(tag);
  return ScanByPosition(
      store_,
      "AND e.position IN (SELECT position FROM " + store_->schema() +
          ".event_tags WHERE tag = $3 AND position >= $1)",
      [&](Params* p) { p->Bytea(t); }, from_position, max_count, visit,
      nullptr);
}

Status PgJournal::ScanType(std::string_view type, uint64_t from_position,
                           size_t max_count, const EventVisitor& visit) {
  if (type.empty() || type.size() > kMaxTypeNameBytes) {
    return Status::InvalidArgument(
        fmt::format("an event type must be 1 to {} bytes", kMaxTypeNameBytes));
  }
  const std::string t(type);
  return ScanByPosition(
      store_, "AND e.type = $3", [&](Params* p) { p->Bytea(t); }, from_position,
      max_count, visit, nullptr);
}

Result<uint64_t> PgJournal::LastPosition() {
  uint64_t out = 0;
  Status s = store_->Read([&](Conn& c) -> Status {
    Rows rows;
    Status st =
        c.Exec("read the last position",
               fmt::format("SELECT last_position FROM {}.meta WHERE id = 1",
                           store_->schema()),
               nullptr, &rows);
    if (st.ok() && rows.size() == 1) {
      out = static_cast<uint64_t>(rows.Int64(0, 0));
    }
    return st;
  });
  if (!s.ok()) return s;
  return out;
}

Result<uint64_t> PgJournal::WaitForCommit(uint64_t after,
                                          std::chrono::milliseconds timeout,
                                          const std::atomic<bool>* cancel) {
  return store_->WaitForCommit(after, timeout, cancel);
}

void PgJournal::WakeCommitWaiters() { store_->WakeWaiters(); }

// --- Snapshots --------------------------------------------------------------

void PgSnapshots::Save(std::string_view stream, uint64_t seq, SnapshotData data,
                       SaveCallback done) {
  Status s = store_->RefuseWrites();
  if (s.ok()) s = ValidateSave(stream, seq, data);
  if (s.ok()) s = CheckSnapshotForPostgres(stream, data);
  if (!s.ok()) {
    Complete(done, s);
    return;
  }
  auto op = std::make_unique<Op>();
  op->kind = Op::Kind::kSave;
  op->save_stream = std::string(stream);
  op->save_seq = seq;
  op->bytes = data.payload.size() + data.metadata.size() + 128;
  op->snapshot = std::move(data);
  op->save_done = std::move(done);
  store_->Submit(std::move(op));
}

Result<AppendResult> PgSnapshots::AppendWithSnapshot(StreamAppend events,
                                                     SnapshotData snapshot) {
  Status s = store_->RefuseWrites();
  if (s.ok()) s = ValidateAppendRequest(events);
  if (s.ok()) s = CheckForPostgres(events);
  if (s.ok()) s = ValidateSave(events.stream, 1, snapshot);
  if (s.ok()) s = CheckSnapshotForPostgres(events.stream, snapshot);
  if (s.ok()) {
    size_t total = snapshot.payload.size() + snapshot.metadata.size();
    for (const EventData& e : events.events) {
      total += e.payload.size() + e.metadata.size();
    }
    if (total > kMaxPostgresRequestBytes) {
      s = Status::InvalidArgument(fmt::format(
          "append with snapshot to stream '{}': {} bytes exceed a PostgreSQL "
          "store's limit of {} per request (kMaxPostgresRequestBytes)",
          events.stream, total, kMaxPostgresRequestBytes));
    }
  }
  if (!s.ok()) return s;
  if (store_->options().generate_event_ids && events.events[0].id.empty()) {
    for (EventData& e : events.events) e.id = Uuid::Generate();
  }
  std::promise<Result<AppendResult>> done;
  auto result = done.get_future();
  auto op = std::make_unique<Op>();
  op->kind = Op::Kind::kAppendWithSnapshot;
  op->bytes = RequestBytes(events) + snapshot.payload.size() + 128;
  op->requests.push_back(std::move(events));
  op->snapshot = std::move(snapshot);
  op->append_done = [&done](Result<AppendResult> r) {
    done.set_value(std::move(r));
  };
  store_->Submit(std::move(op));
  return result.get();
}

constexpr const char* kSnapshotColumns =
    "n.seq, n.ts_ns, n.type, n.schema_version, n.payload, n.metadata, n.crc";

SnapshotInfo SnapshotInfoFrom(const Rows& rows, int i) {
  SnapshotInfo info;
  info.seq = static_cast<uint64_t>(rows.Int64(i, 0));
  info.timestamp_ns = rows.Int64(i, 1);
  const std::string_view type = rows.Bytes(i, 2);
  info.schema_version = static_cast<uint32_t>(rows.Int32(i, 3));
  const std::string_view payload = rows.Bytes(i, 4);
  info.size = payload.size();
  info.checksum_ok = rows.Int64(i, 6) == SnapshotCrc(info.timestamp_ns, type,
                                                     info.schema_version,
                                                     payload, rows.Bytes(i, 5));
  if (info.checksum_ok) info.type = std::string(type);
  return info;
}

// The stream's snapshots, oldest first, with or without payloads. Errors:
// kNotFound for a missing stream; a deleted one has none.
Status ReadSnapshots(PgStore* store, Conn& c, std::string_view stream,
                     bool payloads, Rows* rows, bool* exists) {
  Params p;
  p.Text(stream);
  Status s =
      c.Exec("read snapshots",
             fmt::format("SELECT {}, s.deleted FROM {}.streams s LEFT JOIN "
                         "{}.snapshots n ON n.stream_id = s.stream_id WHERE "
                         "s.name = $1 ORDER BY n.seq",
                         payloads ? kSnapshotColumns
                                  : "n.seq, n.ts_ns, n.type, n.schema_version, "
                                    "n.payload, n.metadata, n.crc",
                         store->schema(), store->schema()),
             &p, rows);
  if (!s.ok()) return s;
  *exists = rows->size() > 0;
  if (!*exists) {
    return Status::NotFound(fmt::format("stream '{}' does not exist", stream));
  }
  return Status::OK();
}

Result<std::vector<SnapshotInfo>> PgSnapshots::List(std::string_view stream) {
  Status s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  std::vector<SnapshotInfo> out;
  s = store_->Read([&](Conn& c) -> Status {
    Rows rows;
    bool exists = false;
    Status st = ReadSnapshots(store_, c, stream, false, &rows, &exists);
    if (!st.ok()) return st;
    for (int i = 0; i < rows.size(); ++i) {
      if (rows.null(i, 0)) continue;
      out.push_back(SnapshotInfoFrom(rows, i));
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  return out;
}

Result<LoadResult> PgSnapshots::LoadLatest(std::string_view stream,
                                           const SnapshotCriteria& criteria) {
  Status s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  LoadResult out;
  s = store_->Read([&](Conn& c) -> Status {
    Rows rows;
    bool exists = false;
    Status st = ReadSnapshots(store_, c, stream, true, &rows, &exists);
    if (!st.ok()) return st;
    for (int i = rows.size() - 1; i >= 0; --i) {
      if (rows.null(i, 0)) continue;
      SnapshotInfo info = SnapshotInfoFrom(rows, i);
      if (info.seq > criteria.max_seq || info.seq < criteria.min_seq) continue;
      if (!info.checksum_ok) {
        // No trustworthy timestamp: judged on seq alone.
        out.skipped.push_back(
            {info.seq, fmt::format("checksum mismatch (its row was changed "
                                   "outside memoir or damaged)")});
        continue;
      }
      if (info.timestamp_ns > criteria.max_timestamp_ns ||
          info.timestamp_ns < criteria.min_timestamp_ns) {
        continue;
      }
      Snapshot snap;
      snap.payload = std::string(rows.Bytes(i, 4));
      snap.metadata = std::string(rows.Bytes(i, 5));
      snap.info = std::move(info);
      out.snapshot = std::move(snap);
      break;
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  return out;
}

Result<size_t> PgSnapshots::DeleteWhere(
    std::string_view stream, const std::function<std::vector<uint64_t>(
                                 const std::vector<SnapshotInfo>&)>& pick) {
  const std::string& schema = store_->schema();
  size_t deleted = 0;
  Status s = WriteLiveStream(
      store_, stream, std::nullopt,
      "was deleted; its snapshots cannot be changed", "", "",
      [&](Conn& c, const LockedStream& ls) -> Status {
        Status st;
        Params p;
        p.Int64(ls.id);
        Rows rows;
        st = c.Exec("read snapshots",
                    fmt::format("SELECT {} FROM {}.snapshots n WHERE "
                                "n.stream_id = $1 ORDER BY n.seq",
                                kSnapshotColumns, schema),
                    &p, &rows);
        if (!st.ok()) return st;
        std::vector<SnapshotInfo> infos;
        for (int i = 0; i < rows.size(); ++i) {
          infos.push_back(SnapshotInfoFrom(rows, i));
        }
        const std::vector<uint64_t> seqs = pick(infos);
        if (seqs.empty()) return Status::OK();
        ArrayBuilder a(kInt8Oid);
        for (uint64_t q : seqs) a.AddInt64(static_cast<int64_t>(q));
        Params d;
        d.Int64(ls.id);
        d.Array(kInt8ArrayOid, a.Finish());
        st = c.Exec("delete snapshots",
                    fmt::format("DELETE FROM {}.snapshots WHERE stream_id = $1 "
                                "AND seq = ANY ($2)",
                                schema),
                    &d, &rows);
        if (st.ok()) deleted = seqs.size();
        return st;
      });
  if (!s.ok()) return s;
  return deleted;
}

Status PgSnapshots::Delete(std::string_view stream, uint64_t seq) {
  bool found = false;
  Result<size_t> r =
      DeleteWhere(stream, [&](const std::vector<SnapshotInfo>& infos) {
        std::vector<uint64_t> out;
        for (const SnapshotInfo& i : infos) {
          if (i.seq == seq) out.push_back(seq);
        }
        found = !out.empty();
        return out;
      });
  if (!r.ok()) return r.status();
  if (!found) {
    return Status::NotFound(
        fmt::format("stream '{}' has no snapshot at seq {}", stream, seq));
  }
  return Status::OK();
}

Result<size_t> PgSnapshots::DeleteMatching(std::string_view stream,
                                           const SnapshotCriteria& criteria) {
  const bool default_time =
      criteria.max_timestamp_ns == std::numeric_limits<int64_t>::max() &&
      criteria.min_timestamp_ns == std::numeric_limits<int64_t>::min();
  return DeleteWhere(stream, [&](const std::vector<SnapshotInfo>& infos) {
    std::vector<uint64_t> out;
    for (const SnapshotInfo& i : infos) {
      if (i.seq > criteria.max_seq || i.seq < criteria.min_seq) continue;
      if (!i.checksum_ok) {
        if (default_time) out.push_back(i.seq);
        continue;
      }
      if (i.timestamp_ns > criteria.max_timestamp_ns ||
          i.timestamp_ns < criteria.min_timestamp_ns) {
        continue;
      }
      out.push_back(i.seq);
    }
    return out;
  });
}

Result<size_t> PgSnapshots::Retain(std::string_view stream,
                                   size_t keep_newest) {
  return DeleteWhere(stream, [&](const std::vector<SnapshotInfo>& infos) {
    // Newest first: keep `keep_newest` good ones and any failing ones newer
    // than the oldest of those.
    std::vector<uint64_t> out;
    size_t good = 0;
    for (auto it = infos.rbegin(); it != infos.rend(); ++it) {
      if (good >= keep_newest) {
        out.push_back(it->seq);
        continue;
      }
      if (it->checksum_ok) ++good;
    }
    return out;
  });
}

}  // namespace
}  // namespace internal::pg

Result<PostgresStoreInfo> InspectPostgres(Store& store) {
  auto* pg = dynamic_cast<internal::pg::PgStore*>(&store);
  if (pg == nullptr) {
    return Status::InvalidArgument(
        fmt::format("store {} is not a PostgreSQL store", store.path()));
  }
  return pg->Inspect();
}

bool IsPostgresUri(std::string_view path) {
  return path.rfind("postgresql://", 0) == 0 ||
         path.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Store>> OpenPostgres(const std::string& conninfo,
                                            const StoreOptions& options,
                                            const PostgresOptions& pg) {
  // memoir_schema=NAME in the URI's query names the schema (libpq would
  // refuse the parameter, so it is taken out).
  std::string uri = conninfo;
  PostgresOptions o = pg;
  const size_t q = uri.find('?');
  if (IsPostgresUri(uri) && q != std::string::npos) {
    size_t p = q + 1;
    while (p < uri.size()) {
      size_t end = uri.find('&', p);
      if (end == std::string::npos) end = uri.size();
      if (uri.compare(p, 14, "memoir_schema=") == 0) {
        o.schema = uri.substr(p + 14, end - p - 14);
        // Remove the parameter and one separator.
        const size_t from = end < uri.size() ? p : p - 1;
        const size_t to = end < uri.size() ? end + 1 : end;
        uri.erase(from, to - from);
        break;
      }
      p = end + 1;
    }
  }
  return internal::pg::PgStore::Open(uri, options, o);
}

Status DropPostgresStore(const std::string& conninfo,
                         const std::string& schema) {
  Status s = internal::pg::ValidateSchemaName(schema);
  if (!s.ok()) return s;
  std::unique_ptr<internal::pg::Conn> c;
  s = internal::pg::Conn::Connect(conninfo, &c);
  if (!s.ok()) return s;
  internal::pg::Params p;
  p.Text(schema);
  internal::pg::Rows rows;
  s = c->Exec("look for the store",
              "SELECT to_regclass(quote_ident($1) || '.meta') IS NOT NULL", &p,
              &rows);
  if (!s.ok()) return s;
  if (!rows.Bool(0, 0)) {
    return Status::NotFound(fmt::format("no memoir store in schema '{}' of {}",
                                        schema,
                                        internal::pg::MaskPassword(conninfo)));
  }
  // A session that holds the store's tables (an open Store) makes the
  // drop wait; after a minute it fails with kBusy instead.
  return c->Simple("drop the store",
                   fmt::format("SET lock_timeout = '60s'; DROP SCHEMA {} "
                               "CASCADE",
                               schema));
}

}  // namespace memoir

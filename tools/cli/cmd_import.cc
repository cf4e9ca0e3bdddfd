// import: a store from the JSON Lines of 'memoir export' on stdin.
//
// The events keep their streams, seqs, types, schema versions, tags,
// payload bytes and timestamps (the store's clock is set to each event's
// time as it is appended), so exporting the imported store gives the same
// lines again. Deleted events are reproduced as deleted: placeholder events
// take the deleted seqs and are deleted at once (DeleteTo), so a stream's
// seqs and deleted-to mark match the export's; a deleted stream is
// tombstoned the same way. Positions are the new store's own.
//
// The import is not atomic: on an error, what was imported before it stays.
// Import into a new store, and remove it if the import fails.
#include <fmt/format.h>

#include <atomic>
#include <iostream>
#include <map>

#include "cli.h"
#include "contain.h"
#include "format.h"
#include "json.h"
#include "output.h"

namespace memoir::cli {
namespace {

constexpr char kPlaceholderType[] = "memoir.import.placeholder";
constexpr size_t kBatchEvents = 1024;
constexpr size_t kBatchBytes = size_t{16} << 20;

// Stamps every commit with the time of what is being imported. Import
// writes one request at a time, so each transaction holds only that.
class ImportClock final : public Clock {
 public:
  int64_t NowNanos() override { return now_.load(); }
  void Set(int64_t ns) { now_.store(ns); }

 private:
  std::atomic<int64_t> now_{0};
};

struct Plan {
  uint64_t head = 0, deleted_to = 0;
  bool deleted = false;
  int64_t created_ns = 0;
  uint64_t next_seq = 1;     // the seq the next event must have
  bool real_events = false;  // an exported event was seen
};

Status Bad(size_t line, std::string_view why) {
  return Status::InvalidArgument(fmt::format("line {}: {}", line, why));
}

class Importer {
 public:
  Importer(Store& store, ImportClock& clock) : store_(store), clock_(clock) {}

  Status Line(size_t n, std::string_view text) {
    line_ = n;
    Result<JsonValue> parsed = ParseJson(text);
    if (!parsed.ok()) return Bad(n, parsed.status().message());
    const JsonValue& v = *parsed;
    if (v.kind != JsonValue::Kind::kObject) return Bad(n, "not an object");
    if (!header_) {
      const JsonValue* f = v.Find("memoir_export");
      if (f == nullptr || f->AsU64() != 1u) {
        return Bad(n,
                   "the input does not start with {\"memoir_export\":1}: "
                   "it is not the output of 'memoir export'");
      }
      header_ = true;
      return Status::OK();
    }
    if (ended_) return Bad(n, "text after the end line");
    const JsonValue* kind = v.Find("kind");
    std::string_view k = kind != nullptr ? std::string_view(kind->text) : "";
    if (k == "event") return Event(v);
    Status s = FlushBatch();
    if (!s.ok()) return s;
    if (k == "stream") return Stream(v);
    if (k == "snapshot") return Snapshot(v);
    if (k == "end") return End(v);
    return Bad(n, "unknown \"kind\"");
  }

  Status Finish() {
    Status s = FlushBatch();
    if (!s.ok()) return s;
    if (!header_) return Bad(line_ + 1, "the input is empty");
    if (!ended_) {
      return Bad(line_ + 1,
                 "the input ends before its end line: the export was cut "
                 "short (what came before it was imported)");
    }
    return Status::OK();
  }

  uint64_t streams() const { return plans_.size(); }
  uint64_t events() const { return events_; }
  uint64_t snapshots() const { return snapshots_; }

 private:
  // Field readers: false when the field is missing or of the wrong form.
  bool U64(const JsonValue& v, const char* key, uint64_t* out) {
    const JsonValue* f = v.Find(key);
    auto n = f != nullptr ? f->AsU64() : std::nullopt;
    if (n) *out = *n;
    return n.has_value();
  }
  bool I64(const JsonValue& v, const char* key, int64_t* out) {
    const JsonValue* f = v.Find(key);
    auto n = f != nullptr ? f->AsI64() : std::nullopt;
    if (n) *out = *n;
    return n.has_value();
  }
  bool Text(const JsonValue& v, const char* key, std::string* out) {
    const JsonValue* f = v.Find(key);
    if (f == nullptr) return false;
    std::optional<std::string> bytes = BytesFrom(*f);
    if (bytes) *out = std::move(*bytes);
    return bytes.has_value();
  }
  bool Payload(const JsonValue& v, std::string* out) {
    const JsonValue* f = v.Find("payload_base64");
    if (f == nullptr || f->kind != JsonValue::Kind::kString) return false;
    std::optional<std::string> bytes = FromBase64(f->text);
    if (bytes) *out = std::move(*bytes);
    return bytes.has_value();
  }
  Result<Plan*> PlanOf(const JsonValue& v, std::string* name) {
    if (!Text(v, "stream", name)) return Bad(line_, "no \"stream\"");
    auto it = plans_.find(*name);
    if (it == plans_.end()) {
      return Bad(line_, fmt::format("stream '{}' has no stream line before "
                                    "it",
                                    *name));
    }
    return &it->second;
  }

  Status Stream(const JsonValue& v) {
    std::string name;
    Plan plan;
    const JsonValue* deleted = v.Find("deleted");
    if (!Text(v, "stream", &name) || !U64(v, "head", &plan.head) ||
        !U64(v, "deleted_to", &plan.deleted_to) ||
        !I64(v, "created_ns", &plan.created_ns) || deleted == nullptr ||
        deleted->kind != JsonValue::Kind::kBool ||
        plan.deleted_to > plan.head) {
      return Bad(line_,
                 "a stream line needs stream, head, deleted_to (at "
                 "most head), deleted and created_ns");
    }
    plan.deleted = deleted->boolean;
    if (plans_.count(name)) {
      return Bad(line_, fmt::format("stream '{}' appears twice", name));
    }
    Result<uint64_t> head = store_.journal().Head(name);
    if (!head.ok() && !head.status().IsStreamDeleted()) {
      return head.status().IsInvalidArgument()
                 ? Bad(line_, head.status().message())
                 : head.status();
    }
    if (!head.ok() || *head > 0) {
      return Status::Conflict(
          fmt::format("stream '{}' already exists in {}; import into a new "
                      "store",
                      name, store_.path()),
          head.ok() ? *head : 0);
    }
    Plan& p = plans_.emplace(name, plan).first->second;
    if (p.deleted) {
      Status s = Placeholders(name, p, std::max<uint64_t>(p.head, 1));
      return s.ok() ? store_.journal().DeleteStream(name) : s;
    }
    return p.deleted_to > 0 ? Skip(name, p, p.deleted_to) : Status::OK();
  }

  // Appends placeholders up to `upto`, stamped with the stream's creation.
  Status Placeholders(const std::string& name, Plan& p, uint64_t upto) {
    clock_.Set(p.created_ns);
    while (p.next_seq <= upto) {
      size_t n = static_cast<size_t>(
          std::min<uint64_t>(upto - p.next_seq + 1, kBatchEvents));
      std::vector<EventData> events(n, EventData{kPlaceholderType, "", 1, {}});
      Result<AppendResult> r = store_.journal().Append(
          name, Expected::At(p.next_seq - 1), std::move(events));
      if (!r.ok()) return r.status();
      p.next_seq = r->last_seq + 1;
      Heartbeat();
    }
    return Status::OK();
  }

  // Makes seqs up to `upto` deleted ones.
  Status Skip(const std::string& name, Plan& p, uint64_t upto) {
    Status s = Placeholders(name, p, upto);
    return s.ok() ? store_.journal().DeleteTo(name, upto) : s;
  }

  Status Event(const JsonValue& v) {
    std::string name;
    Result<Plan*> plan = PlanOf(v, &name);
    if (!plan.ok()) return plan.status();
    Plan& p = **plan;
    uint64_t seq = 0, version = 0;
    int64_t ts = 0;
    EventData e;
    const JsonValue* tags = v.Find("tags");
    if (!U64(v, "seq", &seq) || !I64(v, "timestamp_ns", &ts) ||
        !Text(v, "type", &e.type) || !U64(v, "schema_version", &version) ||
        version > UINT32_MAX || !Payload(v, &e.payload) || tags == nullptr ||
        tags->kind != JsonValue::Kind::kArray) {
      return Bad(line_,
                 "an event line needs stream, seq, timestamp_ns, "
                 "type, schema_version, tags and payload_base64");
    }
    e.schema_version = static_cast<uint32_t>(version);
    for (const JsonValue& t : tags->items) {
      std::optional<std::string> tag = BytesFrom(t);
      if (!tag) return Bad(line_, "a tag is neither a string nor base64");
      e.tags.push_back(std::move(*tag));
    }
    if (p.deleted) {
      return Bad(line_, fmt::format("an event of deleted stream '{}'", name));
    }
    if (seq != p.next_seq) {
      // Events deleted while the export ran: the first exported event
      // starts later than the listed deleted-to mark.
      if (p.real_events || seq < p.next_seq) {
        return Bad(line_, fmt::format("stream '{}' seq {} where seq {} was "
                                      "expected: the export is incomplete "
                                      "or out of order",
                                      name, seq, p.next_seq));
      }
      Status s = FlushBatch();
      if (s.ok()) s = Skip(name, p, seq - 1);
      if (!s.ok()) return s;
    }
    if (!batch_.empty() &&
        (batch_stream_ != name || batch_ts_ != ts ||
         batch_.size() >= kBatchEvents || batch_bytes_ >= kBatchBytes)) {
      Status s = FlushBatch();
      if (!s.ok()) return s;
    }
    batch_stream_ = name;
    batch_ts_ = ts;
    batch_bytes_ += e.payload.size();
    batch_.push_back(std::move(e));
    p.next_seq = seq + 1;
    p.real_events = true;
    return Status::OK();
  }

  // Appends the batched events: one append, stamped with their time.
  Status FlushBatch() {
    if (batch_.empty()) return Status::OK();
    Plan& p = plans_[batch_stream_];
    const uint64_t first = p.next_seq - batch_.size();
    const size_t n = batch_.size();
    clock_.Set(batch_ts_);
    Result<AppendResult> r = store_.journal().Append(
        batch_stream_, Expected::At(first - 1), std::move(batch_));
    batch_.clear();
    batch_bytes_ = 0;
    if (!r.ok()) return r.status();
    events_ += n;
    Heartbeat();
    return Status::OK();
  }

  Status Snapshot(const JsonValue& v) {
    std::string name;
    Result<Plan*> plan = PlanOf(v, &name);
    if (!plan.ok()) return plan.status();
    uint64_t seq = 0, version = 0;
    int64_t ts = 0;
    SnapshotData data;
    if (!U64(v, "seq", &seq) || !I64(v, "timestamp_ns", &ts) ||
        !Text(v, "type", &data.type) || !U64(v, "schema_version", &version) ||
        version > UINT32_MAX || !Payload(v, &data.payload)) {
      return Bad(line_,
                 "a snapshot line needs stream, seq, timestamp_ns, "
                 "type, schema_version and payload_base64");
    }
    data.schema_version = static_cast<uint32_t>(version);
    clock_.Set(ts);
    Status s = store_.snapshots().Save(name, seq, std::move(data));
    if (s.IsInvalidArgument()) return Bad(line_, s.message());
    if (s.ok()) ++snapshots_;
    return s;
  }

  Status End(const JsonValue& v) {
    uint64_t streams = 0, events = 0, snapshots = 0;
    if (!U64(v, "streams", &streams) || !U64(v, "events", &events) ||
        !U64(v, "snapshots", &snapshots)) {
      return Bad(line_, "the end line needs streams, events and snapshots");
    }
    if (streams != plans_.size() || events != events_ ||
        snapshots != snapshots_) {
      return Bad(line_,
                 fmt::format("the end line counts {} streams, {} events and {} "
                             "snapshots, but the input held {}, {} and {}",
                             streams, events, snapshots, plans_.size(), events_,
                             snapshots_));
    }
    ended_ = true;
    return Status::OK();
  }

  Store& store_;
  ImportClock& clock_;
  size_t line_ = 0;
  bool header_ = false;
  bool ended_ = false;
  std::map<std::string, Plan> plans_;
  std::vector<EventData> batch_;
  std::string batch_stream_;
  int64_t batch_ts_ = 0;
  size_t batch_bytes_ = 0;
  uint64_t events_ = 0, snapshots_ = 0;
};

int RunImport(const Options& o) {
  auto clock = std::make_shared<ImportClock>();
  StoreOptions options;
  options.durability = Durability::kNone;  // one sync at the end
  options.clock = clock;
  auto opened = Store::Open(o.store, options);
  if (!opened.ok()) {
    (void)Fail(opened.status(), fmt::format("opening {} for writing", o.store));
    return kExitUnreadable;
  }
  Store& store = **opened;
  Importer importer(store, *clock);
  Progress progress("import");
  std::string line;
  size_t n = 0;
  Status s;
  while (s.ok() && std::getline(std::cin, line)) {
    s = importer.Line(++n, line);
    progress.Update(importer.events(), "events");
  }
  if (s.ok()) s = importer.Finish();
  Status synced = store.Sync();
  if (s.ok()) s = synced;
  if (!s.ok()) {
    int code = Fail(s, fmt::format("importing into {}", o.store));
    // Input that is not a valid export is a problem found, not a usage error.
    return s.IsInvalidArgument() ? kExitProblems : code;
  }
  PrintLine(fmt::format(
      "imported {} streams, {} events and {} snapshots into "
      "{}",
      importer.streams(), importer.events(), importer.snapshots(), o.store));
  return kExitOk;
}

}  // namespace

void AddImportCommand(CLI::App& app, Options& o,
                      std::vector<Command>& commands) {
  CLI::App* imp = app.add_subcommand(
      "import",
      "Read the JSON Lines of 'memoir export' from stdin into STORE (created "
      "when missing; its streams must not exist yet)");
  AddStoreArg(imp, o);
  commands.push_back({imp, Kind::kWrite, [&o] { return RunImport(o); }});
}

}  // namespace memoir::cli

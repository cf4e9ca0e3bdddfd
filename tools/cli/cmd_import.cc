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
// Into a new store (a path that does not exist or an empty directory) the
// import is all or nothing: it is built in a sibling directory
// "STORE.importing-XXXXXX", renamed to STORE only when the whole input was
// imported and synced, and removed otherwise, so a failed import leaves no
// store behind. Into an existing store it is not atomic: on an error, what
// was imported before it stays.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "cli.h"
#include "contain.h"
#include "format.h"
#include "json.h"
#include "memoir/postgres.h"
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
  std::string metadata;      // the stream's user metadata, set at the end
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
                 "short");
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
  // The optional "metadata_base64" of an event or snapshot line.
  Status Metadata(const JsonValue& v, std::string* out) {
    const JsonValue* f = v.Find("metadata_base64");
    if (f == nullptr) return Status::OK();
    std::optional<std::string> bytes;
    if (f->kind == JsonValue::Kind::kString) bytes = FromBase64(f->text);
    if (!bytes) return Bad(line_, "\"metadata_base64\" is not base64");
    *out = std::move(*bytes);
    return Status::OK();
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
    Status meta = Metadata(v, &plan.metadata);
    if (!meta.ok()) return meta;
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
    for (auto [key, id] :
         {std::pair{"id", &e.id}, std::pair{"causation_id", &e.causation_id},
          std::pair{"correlation_id", &e.correlation_id}}) {
      const JsonValue* f = v.Find(key);
      if (f == nullptr) continue;
      std::optional<Uuid> parsed;
      if (f->kind == JsonValue::Kind::kString) parsed = Uuid::Parse(f->text);
      if (!parsed) {
        return Bad(line_, fmt::format("\"{}\" is not a UUID such as "
                                      "\"0190f5b2-7c1e-7a3d-9b1f-"
                                      "3c2d4e5f6a7b\"",
                                      key));
      }
      *id = *parsed;
    }
    if (Status m = Metadata(v, &e.metadata); !m.ok()) return m;
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
    // One append takes events all with ids or all without, each id once.
    auto id_breaks_batch = [&] {
      if (batch_.front().id.empty() != e.id.empty()) return true;
      if (e.id.empty()) return false;
      return std::any_of(batch_.begin(), batch_.end(),
                         [&](const EventData& b) { return b.id == e.id; });
    };
    if (!batch_.empty() && (batch_stream_ != name || batch_ts_ != ts ||
                            batch_.size() >= kBatchEvents ||
                            batch_bytes_ >= kBatchBytes || id_breaks_batch())) {
      Status s = FlushBatch();
      if (!s.ok()) return s;
    }
    batch_stream_ = name;
    batch_ts_ = ts;
    batch_bytes_ += e.payload.size() + e.metadata.size();
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
    if (Status m = Metadata(v, &data.metadata); !m.ok()) return m;
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
    // Their metadata goes on last, onto every stream the import created.
    // A live stream none of whose events reached the export (all deleted
    // while it ran) was not created, and keeps no metadata either.
    Status s = FlushBatch();
    if (!s.ok()) return s;
    for (const auto& [name, plan] : plans_) {
      if (plan.deleted || plan.metadata.empty() || plan.next_seq == 1) continue;
      s = store_.journal().SetStreamMetadata(name, plan.metadata);
      if (s.IsInvalidArgument()) return Bad(line_, s.message());
      if (!s.ok()) {
        return s.WithContext(fmt::format("setting stream '{}' metadata", name));
      }
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

namespace fs = std::filesystem;

// True when `path` holds no store yet: it does not exist, or it is an empty
// directory.
bool IsNewStore(const std::string& path) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) return true;
  return !ec && fs::is_directory(st) && fs::is_empty(path, ec) && !ec;
}

// A new, empty sibling directory of `path` to build the store in.
Result<std::string> MakeSibling(const std::string& path) {
  fs::path target = fs::path(path).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  fs::path parent = target.parent_path();
  if (parent.empty()) parent = ".";
  std::string pattern =
      (parent / (target.filename().string() + ".importing-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    const int err = errno;
    return Status::IOError(
        fmt::format("creating a directory beside {} to import into: {}", path,
                    std::strerror(err)));
  }
  return pattern;
}

// Renames the finished store `from` to `to` (a path that does not exist or
// an empty directory) and syncs the parent directory so the name lasts.
Status Publish(const std::string& from, const std::string& to) {
  fs::path target = fs::path(to).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  if (std::rename(from.c_str(), target.c_str()) != 0) {
    const int err = errno;
    return Status::IOError(
        fmt::format("renaming {} to {}: {}{}", from, to, std::strerror(err),
                    err == ENOTEMPTY || err == EEXIST
                        ? " (something was written there meanwhile)"
                        : ""));
  }
  fs::path parent = target.parent_path();
  if (parent.empty()) parent = ".";
  int fd = open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  return Status::OK();
}

// Total bytes on stdin when it is a regular file (`memoir import S < f`).
uint64_t InputSize() {
  struct stat st {};
  if (fstat(STDIN_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  const off_t left = st.st_size - lseek(STDIN_FILENO, 0, SEEK_CUR);
  return left > 0 ? static_cast<uint64_t>(left) : 0;
}

// Imports stdin into the store at `path` (`fresh`: a new one, removed by
// the caller on failure). Returns the exit code; errors name `name` (the
// store the user gave). On success `summary` says what was imported.
int ImportInto(const std::string& path, const std::string& name, bool fresh,
               std::string* summary) {
  auto clock = std::make_shared<ImportClock>();
  StoreOptions options;
  options.durability = Durability::kNone;  // one sync at the end
  options.clock = clock;
  auto opened = Store::Open(path, options);
  if (!opened.ok()) {
    return FailOpening(opened.status(),
                       fmt::format("opening {} for writing", name));
  }
  Store& store = **opened;
  Importer importer(store, *clock);
  Progress progress("import");
  progress.SetTotal(InputSize());
  std::string line;
  size_t n = 0;
  uint64_t bytes = 0;
  Status s;
  while (s.ok() && std::getline(std::cin, line)) {
    bytes += line.size() + 1;
    s = importer.Line(++n, line);
    progress.Update(bytes, "bytes");
  }
  if (s.ok()) s = importer.Finish();
  Status synced = store.Sync();
  if (s.ok()) s = synced;
  Status closed = store.Close();
  if (s.ok()) s = closed;
  if (!s.ok()) {
    // Input that is not a valid export is a problem found, not a usage
    // error.
    const int code = s.IsInvalidArgument() ? kExitProblems : ExitCode(s);
    PrintError(
        code, fmt::format("importing into {}: {}", name, s.message()),
        fresh ? fmt::format("Nothing was imported: {} was not created.", name)
              : fmt::format("What came before the error was imported "
                            "into {} and stays there.",
                            name));
    return code;
  }
  *summary = fmt::format(
      "imported {} streams, {} events and {} snapshots "
      "into {}",
      importer.streams(), importer.events(), importer.snapshots(), name);
  return kExitOk;
}

int RunImport(const Options& o) {
  if (IsPostgresUri(o.store)) {
    return Fail(Status::InvalidArgument(
                    "import writes LMDB stores only for now; import into a "
                    "directory, or append through the library"),
                fmt::format("importing into {}", o.store));
  }
  std::string summary;
  if (!IsNewStore(o.store)) {
    // An existing store (or a directory holding something else, which
    // Store::Open refuses or takes as it would for any writer).
    int code = ImportInto(o.store, o.store, /*fresh=*/false, &summary);
    if (code != kExitOk) return code;
  } else {
    Result<std::string> sibling = MakeSibling(o.store);
    if (!sibling.ok()) {
      return Fail(sibling.status(), fmt::format("importing into {}", o.store));
    }
    int code = ImportInto(*sibling, o.store, /*fresh=*/true, &summary);
    Status published =
        code == kExitOk ? Publish(*sibling, o.store) : Status::OK();
    if (code != kExitOk || !published.ok()) {
      std::error_code ec;
      fs::remove_all(*sibling, ec);
    }
    if (code != kExitOk) return code;
    if (!published.ok()) {
      return Fail(published, fmt::format("importing into {}", o.store));
    }
  }
  PrintLine(summary);
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

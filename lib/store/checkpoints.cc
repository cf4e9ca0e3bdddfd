// The in-store checkpoints (memoir/checkpoint_store.h, store/checkpoints.h).
#include "store/checkpoints.h"

#include <fmt/format.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "storage/bytes.h"
#include "storage/checksum.h"
#include "storage/lmdb_error.h"
#include "store/blocking_op.h"
#include "store/store_internal.h"

namespace memoir::internal {
namespace {

constexpr char kDatabase[] = "checkpoints";
constexpr char kParked[] = "parked";
constexpr size_t kParkedFixed = 32;  // seq, time, flags, two lengths

std::string ParkedKey(std::string_view name, uint64_t position) {
  std::string key(name);
  key.push_back('\0');
  AppendBig64(&key, position);
  return key;
}

std::string EncodeParked(const ParkedEvent& e) {
  std::string out(kParkedFixed, '\0');
  PutLittle64(out.data(), e.seq);
  PutLittle64(out.data() + 8, static_cast<uint64_t>(e.parked_ns));
  PutLittle64(out.data() + 16, (e.behind ? 1 : 0) | (e.retry ? 2 : 0));
  PutLittle32(out.data() + 24, static_cast<uint32_t>(e.stream.size()));
  PutLittle32(out.data() + 28, static_cast<uint32_t>(e.type.size()));
  out += e.stream;
  out += e.type;
  out += e.error;
  char sum[8];
  PutLittle64(sum, Checksum(out.data(), out.size()));
  out.append(sum, 8);
  return out;
}

bool DecodeParked(std::string_view key, std::string_view value,
                  ParkedEvent* e) {
  if (key.size() < 9 || value.size() < kParkedFixed + 8) return false;
  const char* v = value.data();
  const size_t body = value.size() - 8;
  if (GetLittle64(v + body) != Checksum(v, body)) return false;
  const size_t stream_len = GetLittle32(v + 24);
  const size_t type_len = GetLittle32(v + 28);
  if (kParkedFixed + stream_len + type_len > body) return false;
  e->position = GetBig64(key.data() + key.size() - 8);
  e->seq = GetLittle64(v);
  e->parked_ns = static_cast<int64_t>(GetLittle64(v + 8));
  e->behind = (GetLittle64(v + 16) & 1) != 0;
  e->retry = (GetLittle64(v + 16) & 2) != 0;
  e->stream.assign(v + kParkedFixed, stream_len);
  e->type.assign(v + kParkedFixed + stream_len, type_len);
  e->error.assign(v + kParkedFixed + stream_len + type_len,
                  body - kParkedFixed - stream_len - type_len);
  return true;
}
constexpr size_t kRecordBytes = 24;

Status CheckName(std::string_view name) {
  Status s = ValidateStreamName(name);
  if (s.ok()) return s;
  return Status::InvalidArgument(
      fmt::format("checkpoint name: {}", s.message()));
}

// Writes one checkpoint inside the group commit; the caller waits on it.
class SaveCheckpointOp final : public WriteOp {
 public:
  SaveCheckpointOp(MDB_dbi dbi, std::string_view name, uint64_t position,
                   int64_t now_ns)
      : dbi_(dbi), name_(name) {
    PutLittle64(record_, position);
    PutLittle64(record_ + 8, static_cast<uint64_t>(now_ns));
    PutLittle64(record_ + 16, Checksum(record_, 16));
  }
  size_t bytes() const override { return name_.size() + kRecordBytes + 64; }
  int Apply(MDB_txn* txn, Status* /*op_status*/) override {
    MDB_val key{name_.size(), const_cast<char*>(name_.data())};
    MDB_val value{kRecordBytes, record_};
    return mdb_put(txn, dbi_, &key, &value, 0);
  }
  void Done(Status status) override { status_ = std::move(status); }
  WaitNode* wait_node() override { return &woken_; }
  Status Wait() {
    woken_.Wait();
    return status_;
  }

 private:
  MDB_dbi dbi_;
  std::string_view name_;
  char record_[kRecordBytes];
  WaitNode woken_;
  Status status_;
};

class InStore final : public CheckpointStore {
 public:
  explicit InStore(CheckpointsImpl* impl) : impl_(impl) {}
  Result<uint64_t> Load(std::string_view name) override {
    return impl_->Load(name);
  }
  Status Save(std::string_view name, uint64_t position) override {
    return impl_->Save(name, position);
  }
  bool SupportsParking() const override { return true; }
  Status Park(std::string_view name, const ParkedEvent& event) override {
    return impl_->Park(name, event);
  }
  Result<std::vector<ParkedEvent>> Parked(std::string_view name) override {
    return impl_->Parked(name);
  }
  Result<bool> DropParked(std::string_view name, uint64_t position) override {
    return impl_->DropParked(name, position);
  }
  Status Unpark(std::string_view name, uint64_t position) override {
    return impl_->Unpark(name, position);
  }
  Result<size_t> RequestRetry(std::string_view name) override {
    return impl_->RequestRetry(name);
  }

 private:
  CheckpointsImpl* impl_;
};

}  // namespace

Result<std::unique_ptr<CheckpointsImpl>> CheckpointsImpl::Open(
    Env* env, Writer* writer, std::shared_ptr<Clock> clock) {
  std::unique_ptr<CheckpointsImpl> out(
      new CheckpointsImpl(env, writer, std::move(clock)));
  if (!env->read_only()) {
    Result<MDB_dbi> dbi = env->OpenDatabase(kDatabase);
    if (!dbi.ok()) return dbi.status();
    out->dbi_ = *dbi;
    Result<MDB_dbi> parked = env->OpenDatabase(kParked);
    if (!parked.ok()) return parked.status();
    out->parked_ = *parked;
  }
  return out;
}

Result<std::optional<MDB_dbi>> CheckpointsImpl::Dbi() {
  std::lock_guard<std::mutex> lock(mu_);
  if ((dbi_ && parked_) || !env_->read_only()) return dbi_;
  // A read-only store: the owner may have created the databases since
  // (each on its own: a store written before parking existed has only the
  // first until its owner opens it again).
  if (!dbi_) {
    Result<std::optional<MDB_dbi>> dbi = env_->OpenDatabaseIfPresent(kDatabase);
    if (!dbi.ok()) return dbi.status();
    dbi_ = *dbi;
  }
  if (!parked_) {
    Result<std::optional<MDB_dbi>> parked =
        env_->OpenDatabaseIfPresent(kParked);
    if (parked.ok()) parked_ = *parked;
  }
  return dbi_;
}

CheckpointsImpl::Handles CheckpointsImpl::Refresh() {
  (void)Dbi();
  std::lock_guard<std::mutex> lock(mu_);
  return Handles{dbi_, parked_};
}

Result<uint64_t> CheckpointsImpl::Load(std::string_view name) {
  Status valid = CheckName(name);
  if (!valid.ok()) return valid;
  Result<std::optional<MDB_dbi>> dbi = Dbi();
  if (!dbi.ok()) return dbi.status();
  if (!*dbi) return uint64_t{0};
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  MDB_val key{name.size(), const_cast<char*>(name.data())};
  MDB_val value;
  int rc = mdb_get(txn->get(), **dbi, &key, &value);
  if (rc == MDB_NOTFOUND) return uint64_t{0};
  if (rc != 0) {
    return MdbStatus(rc, fmt::format("reading checkpoint '{}'", name));
  }
  const char* bytes = static_cast<const char*>(value.mv_data);
  if (value.mv_size != kRecordBytes ||
      GetLittle64(bytes + 16) != Checksum(bytes, 16)) {
    return Status::Corruption(fmt::format(
        "checkpoint '{}' in {} is damaged ({} bytes, checksum {}); save it "
        "again, or start its consumer from a known position",
        name, env_->dir(), value.mv_size,
        value.mv_size == kRecordBytes ? "wrong" : "not checked"));
  }
  return GetLittle64(bytes);
}

Status CheckpointsImpl::Save(std::string_view name, uint64_t position) {
  Status valid = CheckName(name);
  if (!valid.ok()) return valid;
  if (writer_ == nullptr || !dbi_) {
    return Status::InvalidArgument(fmt::format(
        "cannot save checkpoint '{}': {} is open read-only; keep the "
        "checkpoint in the owning process or in your own database",
        name, env_->dir()));
  }
  SaveCheckpointOp op(*dbi_, name, position, clock_->NowNanos());
  writer_->SubmitBorrowed(&op);
  return op.Wait().WithContext(fmt::format("saving checkpoint '{}'", name));
}

Result<std::vector<SavedCheckpoint>> CheckpointsImpl::List() {
  Result<std::optional<MDB_dbi>> dbi = Dbi();
  if (!dbi.ok()) return dbi.status();
  std::vector<SavedCheckpoint> out;
  if (!*dbi) return out;
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn->get(), **dbi, &cursor);
  if (rc != 0) return MdbStatus(rc, "listing checkpoints");
  MDB_val k;
  MDB_val v;
  Status bad;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    const std::string_view name(static_cast<const char*>(k.mv_data), k.mv_size);
    const char* bytes = static_cast<const char*>(v.mv_data);
    if (v.mv_size != kRecordBytes ||
        GetLittle64(bytes + 16) != Checksum(bytes, 16)) {
      bad = Status::Corruption(fmt::format(
          "checkpoint '{}' in {} is damaged ({} bytes); save it again, or "
          "start its consumer from a known position",
          name, env_->dir(), v.mv_size));
      break;
    }
    out.push_back(
        SavedCheckpoint{std::string(name), GetLittle64(bytes),
                        static_cast<int64_t>(GetLittle64(bytes + 8))});
  }
  mdb_cursor_close(cursor);
  if (!bad.ok()) return bad;
  if (rc != MDB_NOTFOUND) return MdbStatus(rc, "listing checkpoints");
  return out;
}

Status CheckpointsImpl::Park(std::string_view name, const ParkedEvent& event) {
  Status valid = CheckName(name);
  if (!valid.ok()) return valid;
  if (writer_ == nullptr || !parked_) {
    return Status::InvalidArgument(
        fmt::format("cannot park an event for '{}': {} is open read-only", name,
                    env_->dir()));
  }
  ParkedEvent stamped = event;
  stamped.parked_ns = clock_->NowNanos();
  const std::string key = ParkedKey(name, event.position);
  const std::string value = EncodeParked(stamped);
  const MDB_dbi dbi = *parked_;
  BlockingOp op(key.size() + value.size() + 64, [&](MDB_txn* txn, Status*) {
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    return mdb_put(txn, dbi, &k, &v, 0);
  });
  return op.SubmitAndWait(writer_).WithContext(
      fmt::format("parking position {} for '{}'", event.position, name));
}

Result<std::vector<ParkedEvent>> CheckpointsImpl::Parked(
    std::string_view name) {
  Status valid = CheckName(name);
  if (!valid.ok()) return valid;
  Result<std::optional<MDB_dbi>> dbi = Dbi();
  if (!dbi.ok()) return dbi.status();
  std::vector<ParkedEvent> out;
  std::optional<MDB_dbi> parked;
  {
    // A read-only store's Dbi() may set it on another thread.
    std::lock_guard<std::mutex> lock(mu_);
    parked = parked_;
  }
  if (!parked) return out;
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  std::string prefix(name);
  prefix.push_back('\0');
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn->get(), *parked, &cursor);
  if (rc != 0) return MdbStatus(rc, "listing parked events");
  MDB_val k{prefix.size(), prefix.data()};
  MDB_val v;
  Status bad;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
    if (key.size() != prefix.size() + 8 ||
        key.substr(0, prefix.size()) != prefix) {
      if (key.substr(0, prefix.size()) != prefix) break;
      continue;
    }
    ParkedEvent e;
    if (!DecodeParked(
            key,
            std::string_view(static_cast<const char*>(v.mv_data), v.mv_size),
            &e)) {
      bad = Status::Corruption(fmt::format(
          "the parked event at position {} of '{}' in {} is damaged ({} "
          "bytes); drop it with 'memoir drop-parked {} {} {}' and deliver "
          "that position again if it matters (a checkpoint set below it)",
          GetBig64(key.data() + prefix.size()), name, env_->dir(), v.mv_size,
          env_->dir(), name, GetBig64(key.data() + prefix.size())));
      break;
    }
    out.push_back(std::move(e));
  }
  mdb_cursor_close(cursor);
  if (!bad.ok()) return bad;
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return MdbStatus(rc, "listing parked events");
  }
  return out;
}

int CheckpointsImpl::UnparkFromIn(MDB_txn* txn, std::string_view name,
                                  uint64_t from) {
  if (!parked_) return 0;
  std::string prefix(name);
  prefix.push_back('\0');
  const std::string start = ParkedKey(name, from);
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, *parked_, &cursor);
  if (rc != 0) return rc;
  MDB_val k{start.size(), const_cast<char*>(start.data())};
  MDB_val v;
  rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && k.mv_size == prefix.size() + 8 &&
         std::memcmp(k.mv_data, prefix.data(), prefix.size()) == 0) {
    rc = mdb_cursor_del(cursor, 0);
    if (rc != 0) break;
    // After a delete the cursor stands on the next record already.
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

Result<size_t> CheckpointsImpl::RequestRetry(std::string_view name) {
  Status valid = CheckName(name);
  if (!valid.ok()) return valid;
  if (writer_ == nullptr || !parked_) {
    return Status::InvalidArgument(fmt::format(
        "cannot ask for a retry of the events '{}' parked: {} is open "
        "read-only",
        name, env_->dir()));
  }
  const MDB_dbi dbi = *parked_;
  const std::string prefix = std::string(name) + '\0';
  size_t marked = 0;
  BlockingOp op(64 + name.size(), [&](MDB_txn* txn, Status* op_status) {
    marked = 0;
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc != 0) return rc;
    MDB_val k{prefix.size(), const_cast<char*>(prefix.data())};
    MDB_val v;
    std::vector<std::pair<std::string, std::string>> rewrite;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      const std::string_view key(static_cast<const char*>(k.mv_data),
                                 k.mv_size);
      if (key.substr(0, prefix.size()) != prefix) break;
      ParkedEvent e;
      if (!DecodeParked(key, {static_cast<const char*>(v.mv_data), v.mv_size},
                        &e)) {
        *op_status = Status::Corruption(fmt::format(
            "a parked event of '{}' in {} is damaged; nothing was marked", name,
            env_->dir()));
        mdb_cursor_close(cursor);
        return 0;
      }
      e.retry = true;
      rewrite.emplace_back(std::string(key), EncodeParked(e));
    }
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    for (auto& [key, value] : rewrite) {
      MDB_val rk{key.size(), key.data()};
      MDB_val rv{value.size(), value.data()};
      rc = mdb_put(txn, dbi, &rk, &rv, 0);
      if (rc != 0) return rc;
    }
    marked = rewrite.size();
    return 0;
  });
  Status s = op.SubmitAndWait(writer_);
  if (!s.ok()) return s;
  return marked;
}

int CheckpointsImpl::UnparkIn(MDB_txn* txn, std::string_view name,
                              uint64_t position) {
  if (!parked_) return 0;
  const std::string key = ParkedKey(name, position);
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  int rc = mdb_del(txn, *parked_, &k, nullptr);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

Status CheckpointsImpl::Unpark(std::string_view name, uint64_t position) {
  Status valid = CheckName(name);
  if (!valid.ok()) return valid;
  if (writer_ == nullptr || !parked_) {
    return Status::InvalidArgument(
        fmt::format("cannot unpark an event for '{}': {} is open read-only",
                    name, env_->dir()));
  }
  BlockingOp op(64 + name.size(), [&](MDB_txn* txn, Status*) {
    return UnparkIn(txn, name, position);
  });
  return op.SubmitAndWait(writer_);
}

Result<bool> CheckpointsImpl::DropParked(std::string_view name,
                                         uint64_t position) {
  Status valid = CheckName(name);
  if (!valid.ok()) return valid;
  if (writer_ == nullptr || !parked_) {
    return Status::InvalidArgument(
        fmt::format("cannot drop a parked event of '{}': {} is open read-only",
                    name, env_->dir()));
  }
  bool found = false;
  BlockingOp op(64 + name.size(), [&](MDB_txn* txn, Status*) {
    found = false;  // a retried group applies it again
    const std::string key = ParkedKey(name, position);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    int rc = mdb_del(txn, *parked_, &k, nullptr);
    if (rc == 0) found = true;
    return rc == MDB_NOTFOUND ? 0 : rc;
  });
  Status s = op.SubmitAndWait(writer_);
  if (!s.ok()) return s;
  return found;
}

int CheckpointsImpl::Lowest(MDB_txn* txn, uint64_t* floor,
                            std::string* holder) {
  if (!dbi_) return 0;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, *dbi_, &cursor);
  if (rc != 0) return rc;
  MDB_val k;
  MDB_val v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    const std::string_view name(static_cast<const char*>(k.mv_data), k.mv_size);
    const char* bytes = static_cast<const char*>(v.mv_data);
    const bool intact = v.mv_size == kRecordBytes &&
                        GetLittle64(bytes + 16) == Checksum(bytes, 16);
    const uint64_t position = intact ? GetLittle64(bytes) : 0;
    if (position < *floor) {
      *floor = position;
      *holder = fmt::format("{}subscription checkpoint '{}'",
                            intact ? "" : "the damaged ", name);
    }
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return rc;
  // A parked event must stay readable until it is retried.
  if (!parked_) return 0;
  rc = mdb_cursor_open(txn, *parked_, &cursor);
  if (rc != 0) return rc;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    if (k.mv_size < 9) continue;
    const char* key = static_cast<const char*>(k.mv_data);
    const uint64_t position = GetBig64(key + k.mv_size - 8);
    if (position > 0 && position - 1 < *floor) {
      *floor = position - 1;
      *holder = fmt::format("the event parked by '{}' at position {}",
                            std::string_view(key, k.mv_size - 9), position);
    }
  }
  mdb_cursor_close(cursor);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

void CheckpointsImpl::Verify(MDB_txn* txn, const Handles& handles,
                             VerifyContext* ctx) {
  if (handles.parked) VerifyParked(txn, *handles.parked, ctx);
  if (!handles.checkpoints) return;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, *handles.checkpoints, &cursor);
  MDB_val k;
  MDB_val v;
  for (rc = rc != 0 ? rc : mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    ++ctx->report().checkpoints;
    ctx->Tick();
    const std::string_view name(static_cast<const char*>(k.mv_data), k.mv_size);
    const char* bytes = static_cast<const char*>(v.mv_data);
    if (!ValidateStreamName(name).ok()) {
      ctx->Problem("", 0, 0,
                   fmt::format("checkpoints: a record has a malformed name "
                               "({} bytes)",
                               k.mv_size));
    } else if (v.mv_size != kRecordBytes ||
               GetLittle64(bytes + 16) != Checksum(bytes, 16)) {
      ctx->Problem("", 0, 0,
                   fmt::format("checkpoint '{}' is damaged ({} bytes); save "
                               "it again",
                               name, v.mv_size));
    }
  }
  if (cursor != nullptr) mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) {
    ctx->Problem("", 0, 0,
                 std::string(MdbStatus(rc, "reading checkpoints").message()));
  }
}

// Each parked record: a key of a valid consumer name, NUL and a position,
// and a value that decodes with its checksum.
void CheckpointsImpl::VerifyParked(MDB_txn* txn, MDB_dbi parked,
                                   VerifyContext* ctx) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, parked, &cursor);
  MDB_val k;
  MDB_val v;
  for (rc = rc != 0 ? rc : mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    ++ctx->report().parked_events;
    ctx->Tick();
    const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
    const size_t nul =
        key.size() >= 9 ? key.size() - 9 : std::string_view::npos;
    if (nul == std::string_view::npos || key[nul] != '\0' ||
        !ValidateStreamName(key.substr(0, nul)).ok()) {
      ctx->Problem("", 0, 0,
                   fmt::format("parked: a record has a malformed key ({} "
                               "bytes)",
                               k.mv_size));
      continue;
    }
    const std::string_view name = key.substr(0, nul);
    const uint64_t position = GetBig64(key.data() + nul + 1);
    ParkedEvent e;
    if (!DecodeParked(
            key,
            std::string_view(static_cast<const char*>(v.mv_data), v.mv_size),
            &e)) {
      ctx->Problem("", 0, position,
                   fmt::format("the parked event at position {} of '{}' is "
                               "damaged ({} bytes); drop it with 'memoir "
                               "drop-parked STORE {} {}'",
                               position, name, v.mv_size, name, position));
    }
  }
  if (cursor != nullptr) mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) {
    ctx->Problem("", 0, 0,
                 std::string(MdbStatus(rc, "reading parked events").message()));
  }
}

}  // namespace memoir::internal

namespace memoir {

Status CheckpointStore::Park(std::string_view name, const ParkedEvent&) {
  return Status::InvalidArgument(fmt::format(
      "this checkpoint store does not keep parked events (for '{}'); use "
      "InStoreCheckpoints, or a policy other than parking",
      name));
}
Result<std::vector<ParkedEvent>> CheckpointStore::Parked(
    std::string_view name) {
  return Park(name, ParkedEvent{});
}
Status CheckpointStore::Unpark(std::string_view name, uint64_t) {
  return Park(name, ParkedEvent{});
}
Result<bool> CheckpointStore::DropParked(std::string_view name, uint64_t) {
  return Park(name, ParkedEvent{});
}
Result<size_t> CheckpointStore::RequestRetry(std::string_view name) {
  return Park(name, ParkedEvent{});
}

Result<std::vector<SavedCheckpoint>> ListCheckpoints(Store& store) {
  Result<internal::StoreParts> parts = internal::StoreInternal::PartsOf(store);
  if (!parts.ok()) return parts.status();
  return parts->checkpoints->List();
}

Result<std::unique_ptr<CheckpointStore>> InStoreCheckpoints(Store& store) {
  Result<internal::StoreParts> parts = internal::StoreInternal::PartsOf(store);
  if (!parts.ok()) return parts.status();
  return std::unique_ptr<CheckpointStore>(
      std::make_unique<internal::InStore>(parts->checkpoints));
}

}  // namespace memoir

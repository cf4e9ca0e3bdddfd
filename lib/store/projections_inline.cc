// Inline projections (memoir/projection_store.h AttachInline): the
// writer's TxnObserver half of ProjectionsImpl (store/projections.h).
//
// In each write transaction, after every op has been applied and before
// the commit, each attached projection gets the events after its
// checkpoint, up to the transaction's last one, in a nested LMDB
// transaction: its row writes and its record (the new checkpoint) go into
// the child, which is committed into the parent only when every event
// applied. A failing or throwing apply, a write over the limits, too many
// events or a record someone else moved aborts only the child and
// detaches the projection; the events commit without it. A full map is
// the one failure that dooms the whole transaction: the writer grows the
// map and applies the group again, inline projections included.
#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "memoir/projection.h"
#include "storage/lmdb_error.h"
#include "store/projection_format.h"
#include "store/projections.h"

namespace memoir::internal {

using projection_format::CheckRow;
using projection_format::GetRecord;
using projection_format::kActive;
using projection_format::kRetired;
using projection_format::PutRecord;
using projection_format::Record;
using projection_format::TablePrefix;
using projection_format::Val;
using projection_format::View;

struct ProjectionsImpl::Inline {
  InlineProjection spec;
  // Guarded by inline_mu_.
  uint64_t checkpoint = 0;  // what its committed rows hold
  bool attached = true;
  bool in_txn = false;  // a transaction is applying it
  // The writer thread's, for the transaction in progress.
  uint64_t pending = 0;
  uint64_t applied = 0;
  std::optional<Status> detach;  // why it detached itself
};

class ProjectionsImpl::Attachment final : public InlineAttachment {
 public:
  Attachment(ProjectionsImpl* owner, std::shared_ptr<Inline> entry)
      : owner_(owner), entry_(std::move(entry)) {}
  ~Attachment() override { (void)Detach(); }
  uint64_t Detach() override { return owner_->Detach(entry_); }

 private:
  ProjectionsImpl* owner_;
  std::shared_ptr<Inline> entry_;
};

namespace {

// The projection's tables inside the child transaction: reads see the
// transaction's own writes, so no overlay is needed.
class TxnModel final : public ReadModel {
 public:
  TxnModel(MDB_txn* txn, MDB_dbi rows, const InlineProjection& spec)
      : txn_(txn), rows_(rows), spec_(spec) {}

  Result<std::optional<std::string>> Get(std::string_view table,
                                         std::string_view key) override {
    Status s = Check(table);
    if (!s.ok()) return s;
    std::string k = TablePrefix(spec_.name, spec_.version, table);
    k.append(key);
    MDB_val mk = Val(k);
    MDB_val v;
    int rc = mdb_get(txn_, rows_, &mk, &v);
    if (rc == MDB_NOTFOUND || rc == MDB_BAD_VALSIZE) {
      return std::optional<std::string>();
    }
    if (rc != 0) return Failed(rc, table);
    return std::optional<std::string>(std::string(View(v)));
  }

  Status Put(std::string_view table, std::string_view key,
             std::string_view value) override {
    Status s = Check(table);
    if (s.ok()) s = CheckRow(spec_.name, table, key, value);
    if (!s.ok()) return s;
    std::string k = TablePrefix(spec_.name, spec_.version, table);
    k.append(key);
    MDB_val mk = Val(k);
    MDB_val v = Val(value);
    int rc = mdb_put(txn_, rows_, &mk, &v, 0);
    return rc == 0 ? Status::OK() : Failed(rc, table);
  }

  Status Delete(std::string_view table, std::string_view key) override {
    Status s = Check(table);
    if (s.ok()) s = CheckRow(spec_.name, table, key, std::nullopt);
    if (!s.ok()) return s;
    std::string k = TablePrefix(spec_.name, spec_.version, table);
    k.append(key);
    MDB_val mk = Val(k);
    int rc = mdb_del(txn_, rows_, &mk, nullptr);
    return rc == 0 || rc == MDB_NOTFOUND ? Status::OK() : Failed(rc, table);
  }

  // The first LMDB error a call met (0: none): it decides the outcome
  // whatever apply returned, since the child is then unusable.
  int rc() const { return rc_; }

 private:
  Status Check(std::string_view table) const {
    if (rc_ != 0) return Failed(rc_, table);
    if (std::find(spec_.tables.begin(), spec_.tables.end(), table) !=
        spec_.tables.end()) {
      return Status::OK();
    }
    return Status::InvalidArgument(
        fmt::format("projection '{}' has no table '{}' (declare it in "
                    "ProjectionOptions::tables)",
                    spec_.name, table));
  }
  Status Failed(int rc, std::string_view table) const {
    if (rc_ == 0) rc_ = rc;
    return MdbStatus(
        rc, fmt::format("projection '{}' table '{}'", spec_.name, table));
  }

  MDB_txn* txn_;
  MDB_dbi rows_;
  const InlineProjection& spec_;
  mutable int rc_ = 0;
};

}  // namespace

Result<std::unique_ptr<InlineAttachment>> ProjectionsImpl::AttachInline(
    InlineProjection projection, uint64_t checkpoint) {
  Status s = CheckWrite(projection.name, projection.version, "attach");
  if (!s.ok()) return s;
  if (!projection.apply || projection.tables.empty() ||
      projection.max_events == 0 || !log_.scan) {
    return Status::InvalidArgument(fmt::format(
        "projection '{}': an inline projection needs an apply function, "
        "tables and max_events of at least 1",
        projection.name));
  }
  auto entry = std::make_shared<Inline>();
  entry->spec = std::move(projection);
  entry->checkpoint = checkpoint;
  {
    std::lock_guard<std::mutex> lock(inline_mu_);
    for (const std::shared_ptr<Inline>& other : inline_) {
      if (other->spec.name == entry->spec.name &&
          other->spec.version == entry->spec.version) {
        return Status::Busy(
            fmt::format("projection '{}' version {} is attached already",
                        entry->spec.name, entry->spec.version));
      }
    }
    inline_.push_back(entry);
    any_inline_.store(true, std::memory_order_release);
  }
  auto attachment = std::make_unique<Attachment>(this, entry);
  // Events committed after the caller's last look are after the
  // checkpoint too, but only a commit runs BeforeCommit: when the log is
  // ahead, make one (it writes nothing but what the projection applies).
  uint64_t head = 0;
  {
    Result<ReadTxn> read = env_->BeginRead();
    if (!read.ok()) return read.status();
    int rc = log_.head(read->get(), &head);
    if (rc != 0) return MdbStatus(rc, "reading the head of the log");
  }
  if (head > checkpoint) {
    s = Run(16, [](MDB_txn*, Status*) { return 0; });
    if (!s.ok()) return s.WithContext("attaching an inline projection");
  }
  return std::unique_ptr<InlineAttachment>(std::move(attachment));
}

uint64_t ProjectionsImpl::Detach(const std::shared_ptr<Inline>& entry) {
  std::unique_lock<std::mutex> lock(inline_mu_);
  entry->attached = false;
  inline_.erase(std::remove(inline_.begin(), inline_.end(), entry),
                inline_.end());
  any_inline_.store(!inline_.empty(), std::memory_order_release);
  inline_done_.wait(lock, [&] { return !entry->in_txn; });
  return entry->checkpoint;
}

int ProjectionsImpl::BeforeCommit(MDB_txn* txn, bool /*closing*/) {
  if (!any_inline_.load(std::memory_order_acquire)) return 0;
  {
    std::lock_guard<std::mutex> lock(inline_mu_);
    for (const std::shared_ptr<Inline>& e : inline_) {
      e->in_txn = true;
      e->pending = e->checkpoint;
      e->applied = 0;
      e->detach.reset();
      txn_inline_.push_back(e);
    }
  }
  if (txn_inline_.empty()) return 0;
  uint64_t head = 0;
  int rc = log_.head(txn, &head);
  for (size_t i = 0; i < txn_inline_.size() && rc == 0; ++i) {
    rc = RunInline(txn, *txn_inline_[i], head);
  }
  return rc;
}

int ProjectionsImpl::RunInline(MDB_txn* txn, Inline& e, uint64_t head) {
  const InlineProjection& spec = e.spec;
  if (head <= e.pending) return 0;
  auto detach = [&](Status why) {
    e.detach = std::move(why);
    return 0;
  };
  if (head - e.pending > spec.max_events) {
    return detach(Status::Busy(fmt::format(
        "{} events arrived in one commit, more than an inline projection "
        "takes ({}); catching up off the writer thread",
        head - e.pending, spec.max_events)));
  }
  MDB_txn* child = nullptr;
  int rc = mdb_txn_begin(env_->raw(), txn, 0, &child);
  if (rc != 0) return detach(MdbStatus(rc, "starting a nested transaction"));
  // Ends the child; a full map dooms the parent (the writer grows the map
  // and tries again), anything else detaches the projection.
  auto fail = [&](int code, Status why) {
    mdb_txn_abort(child);
    if (code == MDB_MAP_FULL) return code;
    return detach(std::move(why));
  };
  std::optional<Record> record;
  Status bad;
  rc = GetRecord(*env_, child, dbis_->records, spec.name, spec.version, &record,
                 &bad);
  if (rc != 0) return fail(rc, MdbStatus(rc, "reading the projection record"));
  if (!bad.ok()) return fail(0, bad);
  if (!record || record->checkpoint != e.pending ||
      (record->flags & kRetired) != 0 || (record->flags & kActive) == 0) {
    return fail(0, Status::Conflict(
                       fmt::format("the record of projection '{}' version {} "
                                   "is no longer at position {}, active",
                                   spec.name, spec.version, e.pending),
                       record ? record->checkpoint : 0));
  }
  TxnModel model(child, dbis_->rows, spec);
  uint64_t applied = 0;
  Status failed;
  Status scanned =
      log_.scan(child, e.pending + 1, head, [&](const EventView& event) {
        if (spec.matches && !spec.matches(event)) return true;
        Status s;
        try {
          s = spec.apply(model, event);
        } catch (const std::exception& ex) {
          s = Status::Failed(fmt::format("apply threw: {}", ex.what()));
        } catch (...) {
          s = Status::Failed("apply threw a non-standard exception");
        }
        if (model.rc() == 0 && !s.ok()) {
          failed = s.WithContext(
              fmt::format("projection '{}' at position {} (stream '{}' seq {})",
                          spec.name, event.position, event.stream, event.seq));
          return false;
        }
        ++applied;
        return model.rc() == 0;
      });
  if (model.rc() != 0) {
    return fail(model.rc(),
                MdbStatus(model.rc(),
                          fmt::format("projection '{}' writing its rows inline",
                                      spec.name)));
  }
  if (!failed.ok()) return fail(0, failed);
  if (!scanned.ok()) return fail(0, scanned);
  Record next = *record;
  next.checkpoint = head;
  next.saved_ns = clock_->NowNanos();
  rc = PutRecord(child, dbis_->records, spec.name, spec.version, next);
  if (rc != 0) return fail(rc, MdbStatus(rc, "writing the projection record"));
  rc = mdb_txn_commit(child);
  if (rc != 0) {
    // The child is freed whatever the outcome.
    if (rc == MDB_MAP_FULL) return rc;
    return detach(MdbStatus(rc, "committing a nested transaction"));
  }
  e.pending = head;
  e.applied = applied;
  return 0;
}

void ProjectionsImpl::Committed() { EndInline(true); }
void ProjectionsImpl::Aborted() { EndInline(false); }

void ProjectionsImpl::EndInline(bool committed) {
  if (txn_inline_.empty()) return;
  std::vector<std::shared_ptr<Inline>> entries;
  entries.swap(txn_inline_);
  // Callbacks run outside inline_mu_ but while in_txn holds Detach back,
  // so the projection they call into is still there.
  for (const std::shared_ptr<Inline>& e : entries) {
    uint64_t checkpoint = 0;
    bool moved = false;
    {
      std::lock_guard<std::mutex> lock(inline_mu_);
      if (e->detach) {
        e->attached = false;
        inline_.erase(std::remove(inline_.begin(), inline_.end(), e),
                      inline_.end());
        any_inline_.store(!inline_.empty(), std::memory_order_release);
      }
      if (committed && e->pending != e->checkpoint) {
        e->checkpoint = e->pending;
        moved = true;
      }
      checkpoint = e->checkpoint;
    }
    if (moved && e->spec.committed) e->spec.committed(checkpoint, e->applied);
    if (e->detach && e->spec.detached) e->spec.detached(*e->detach, checkpoint);
  }
  {
    std::lock_guard<std::mutex> lock(inline_mu_);
    for (const std::shared_ptr<Inline>& e : entries) e->in_txn = false;
  }
  inline_done_.notify_all();
}

}  // namespace memoir::internal

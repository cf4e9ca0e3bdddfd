// The projection tables (memoir/projection_store.h, store/projections.h).
#include "store/projections.h"

#include <fmt/format.h>

#include <map>
#include <utility>

#include "memoir/journal.h"
#include "storage/bytes.h"
#include "storage/checksum.h"
#include "storage/lmdb_error.h"
#include "store/blocking_op.h"
#include "store/projection_format.h"
#include "store/store_internal.h"

namespace memoir::internal {

using projection_format::CheckNamed;
using projection_format::CheckRow;
using projection_format::Decode;
using projection_format::GetRecord;
using projection_format::kActive;
using projection_format::kMaxKeyBytes;
using projection_format::kRecords;
using projection_format::kRetired;
using projection_format::kRows;
using projection_format::PutRecord;
using projection_format::Record;
using projection_format::SplitKey;
using projection_format::StartsWith;
using projection_format::TablePrefix;
using projection_format::ToVersion;
using projection_format::Val;
using projection_format::VersionKey;
using projection_format::View;

std::string ParkingName(std::string_view name, uint32_t version) {
  return fmt::format("{}@v{}", name, version);
}

namespace {

// Deletes up to `limit` rows whose keys start with `prefix`; `*deleted`
// counts them.
int DeleteRows(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix, size_t limit,
               size_t* deleted) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cursor);
  if (rc != 0) return rc;
  MDB_val k = Val(prefix);
  MDB_val v;
  rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && *deleted < limit && StartsWith(View(k), prefix)) {
    rc = mdb_cursor_del(cursor, 0);
    if (rc != 0) break;
    ++*deleted;
    // After a delete the cursor already stands on the next row; MDB_NEXT
    // returns it without moving.
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

class SnapshotImpl final : public ProjectionSnapshot {
 public:
  SnapshotImpl(ReadTxn txn, MDB_dbi rows, ProjectionVersion version)
      : txn_(std::move(txn)), rows_(rows), version_(std::move(version)) {}
  const ProjectionVersion& version() const override { return version_; }

  Result<std::optional<std::string>> Get(std::string_view table,
                                         std::string_view key) override {
    std::string k = TablePrefix(version_.name, version_.version, table);
    k.append(key);
    MDB_val mk = Val(k);
    MDB_val v;
    int rc = mdb_get(txn_.get(), rows_, &mk, &v);
    if (rc == MDB_NOTFOUND) return std::optional<std::string>();
    if (rc == MDB_BAD_VALSIZE) return std::optional<std::string>();
    if (rc != 0) {
      return MdbStatus(rc, fmt::format("reading projection '{}' table '{}'",
                                       version_.name, table));
    }
    return std::optional<std::string>(std::string(View(v)));
  }

  Status Scan(std::string_view table, std::string_view from,
              const RowVisitor& visit) override {
    const std::string prefix =
        TablePrefix(version_.name, version_.version, table);
    std::string start = prefix + std::string(from);
    if (start.size() > kMaxKeyBytes) start.resize(kMaxKeyBytes);
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_.get(), rows_, &cursor);
    if (rc != 0) return MdbStatus(rc, "opening a projection cursor");
    MDB_val k = Val(start);
    MDB_val v;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && StartsWith(View(k), prefix)) {
      if (!visit(View(k).substr(prefix.size()), View(v))) break;
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      return MdbStatus(rc, fmt::format("scanning projection '{}' table '{}'",
                                       version_.name, table));
    }
    return Status::OK();
  }

 private:
  ReadTxn txn_;
  MDB_dbi rows_;
  ProjectionVersion version_;
};

}  // namespace

Result<std::unique_ptr<ProjectionsImpl>> ProjectionsImpl::Open(
    Env* env, Writer* writer, std::shared_ptr<Clock> clock,
    CheckpointsImpl* checkpoints) {
  std::unique_ptr<ProjectionsImpl> out(
      new ProjectionsImpl(env, writer, std::move(clock), checkpoints));
  if (!env->read_only()) {
    Result<MDB_dbi> records = env->OpenDatabase(kRecords);
    if (!records.ok()) return records.status();
    Result<MDB_dbi> rows = env->OpenDatabase(kRows);
    if (!rows.ok()) return rows.status();
    out->dbis_ = Dbis{*records, *rows};
  }
  if (writer != nullptr) writer->AddObserver(out.get());
  return out;
}

Result<std::optional<ProjectionsImpl::Dbis>> ProjectionsImpl::Handles() {
  std::lock_guard<std::mutex> lock(mu_);
  if (dbis_ || !env_->read_only()) return dbis_;
  // A read-only store: the owner may have created the databases since.
  Result<std::optional<MDB_dbi>> records =
      env_->OpenDatabaseIfPresent(kRecords);
  if (!records.ok()) return records.status();
  Result<std::optional<MDB_dbi>> rows = env_->OpenDatabaseIfPresent(kRows);
  if (!rows.ok()) return rows.status();
  if (*records && *rows) dbis_ = Dbis{**records, **rows};
  return dbis_;
}

Result<std::vector<ProjectionVersion>> ProjectionsImpl::List() {
  Result<std::optional<Dbis>> dbis = Handles();
  if (!dbis.ok()) return dbis.status();
  std::vector<ProjectionVersion> out;
  if (!*dbis) return out;
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn->get(), (*dbis)->records, &cursor);
  if (rc != 0) return MdbStatus(rc, "listing projections");
  MDB_val k;
  MDB_val v;
  Status bad;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0 && bad.ok();
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    std::string name;
    uint32_t version = 0;
    if (!SplitKey(View(k), &name, &version)) {
      bad = Status::Corruption(fmt::format(
          "projection record key of {} bytes in {} is malformed; remove it "
          "with a repair or restore the store from a copy",
          k.mv_size, env_->dir()));
      break;
    }
    Result<Record> r = Decode(*env_, name, version, v);
    if (!r.ok()) {
      bad = r.status();
      break;
    }
    out.push_back(ToVersion(std::move(name), version, *r));
  }
  mdb_cursor_close(cursor);
  if (!bad.ok()) return bad;
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return MdbStatus(rc, "listing projections");
  }
  return out;
}

Result<std::unique_ptr<ProjectionSnapshot>> ProjectionsImpl::ReadVersion(
    std::string_view name, uint32_t version) {
  Status valid = CheckNamed("projection name", name);
  if (!valid.ok()) return valid;
  Result<std::optional<Dbis>> dbis = Handles();
  if (!dbis.ok()) return dbis.status();
  auto missing = [&] {
    return Status::NotFound(fmt::format(
        "projection '{}' has no version {} in {}", name, version, env_->dir()));
  };
  if (!*dbis) return missing();
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  std::optional<Record> record;
  Status bad;
  int rc = GetRecord(*env_, txn->get(), (*dbis)->records, name, version,
                     &record, &bad);
  if (rc != 0) return MdbStatus(rc, "reading a projection record");
  if (!bad.ok()) return bad;
  if (!record) return missing();
  return std::unique_ptr<ProjectionSnapshot>(std::make_unique<SnapshotImpl>(
      std::move(txn).value(), (*dbis)->rows,
      ToVersion(std::string(name), version, *record)));
}

Result<std::unique_ptr<ProjectionSnapshot>> ProjectionsImpl::Read(
    std::string_view name) {
  Status valid = CheckNamed("projection name", name);
  if (!valid.ok()) return valid;
  Result<std::optional<Dbis>> dbis = Handles();
  if (!dbis.ok()) return dbis.status();
  if (!*dbis) {
    return Status::NotFound(
        fmt::format("no projection '{}' in {}", name, env_->dir()));
  }
  Result<ReadTxn> txn = env_->BeginRead();
  if (!txn.ok()) return txn.status();
  // Every version of `name`, in the same transaction as the rows.
  const std::string prefix = VersionKey(name, 0).substr(0, name.size() + 1);
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn->get(), (*dbis)->records, &cursor);
  if (rc != 0) return MdbStatus(rc, "reading projection records");
  MDB_val k = Val(prefix);
  MDB_val v;
  std::optional<ProjectionVersion> active;
  std::optional<ProjectionVersion> building;
  Status bad;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
       rc == 0 && StartsWith(View(k), prefix);
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    std::string n;
    uint32_t version = 0;
    if (!SplitKey(View(k), &n, &version) || n != name) continue;
    Result<Record> r = Decode(*env_, name, version, v);
    if (!r.ok()) {
      bad = r.status();
      break;
    }
    ProjectionVersion pv = ToVersion(std::move(n), version, *r);
    if (pv.active) {
      active = std::move(pv);
    } else if (!pv.retired) {
      building = std::move(pv);
    }
  }
  mdb_cursor_close(cursor);
  if (!bad.ok()) return bad;
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return MdbStatus(rc, "reading projection records");
  }
  if (!active) {
    if (building) {
      return Status::NotFound(fmt::format(
          "projection '{}' has no active version yet: version {} is "
          "catching up (at position {}); wait for it, or read that version",
          name, building->version, building->checkpoint));
    }
    return Status::NotFound(
        fmt::format("no projection '{}' in {}", name, env_->dir()));
  }
  return std::unique_ptr<ProjectionSnapshot>(std::make_unique<SnapshotImpl>(
      std::move(txn).value(), (*dbis)->rows, std::move(*active)));
}

Status ProjectionsImpl::CheckWrite(std::string_view name, uint32_t version,
                                   std::string_view what) const {
  Status valid = CheckNamed("projection name", name);
  if (!valid.ok()) return valid;
  if (version == 0) {
    return Status::InvalidArgument(fmt::format(
        "projection '{}': versions are numbered from 1, not 0", name));
  }
  if (writer_ == nullptr || !dbis_) {
    return Status::InvalidArgument(fmt::format(
        "cannot {} projection '{}': {} is open read-only; projections are "
        "written by the process that owns the store",
        what, name, env_->dir()));
  }
  return Status::OK();
}

Status ProjectionsImpl::Run(size_t bytes,
                            std::function<int(MDB_txn*, Status*)> apply) {
  BlockingOp op(bytes, std::move(apply));
  return op.SubmitAndWait(writer_);
}

Status ProjectionsImpl::Commit(std::string_view name, uint32_t version,
                               uint64_t expected, uint64_t checkpoint,
                               std::span<const ProjectionWrite> writes,
                               bool activate,
                               std::span<const uint64_t> unpark) {
  Status s = CheckWrite(name, version, "write");
  if (!s.ok()) return s;
  size_t bytes = 64 + name.size();
  for (const ProjectionWrite& w : writes) {
    s = CheckRow(
        name, w.table, w.key,
        w.value ? std::optional<std::string_view>(*w.value) : std::nullopt);
    if (!s.ok()) return s;
    bytes += name.size() + w.table.size() + w.key.size() +
             (w.value ? w.value->size() : 0) + 24;
  }
  const Dbis dbis = *dbis_;
  const int64_t now = clock_->NowNanos();
  return Run(bytes, [&](MDB_txn* txn, Status* op_status) {
    std::optional<Record> record;
    int rc =
        GetRecord(*env_, txn, dbis.records, name, version, &record, op_status);
    if (rc != 0 || !op_status->ok()) return rc;
    const uint64_t stored = record ? record->checkpoint : 0;
    if (stored != expected) {
      *op_status = Status::Conflict(
          fmt::format("projection '{}' version {} is at position {}, not {}: "
                      "is another runner of it (or a Reset) at work?",
                      name, version, stored, expected),
          stored);
      return 0;
    }
    if (record && (record->flags & kRetired) != 0) {
      *op_status = Status::InvalidArgument(fmt::format(
          "projection '{}' version {} was replaced by a newer version; "
          "register the newer one",
          name, version));
      return 0;
    }
    for (const ProjectionWrite& w : writes) {
      std::string key = TablePrefix(name, version, w.table);
      key.append(w.key);
      MDB_val k = Val(key);
      if (w.value) {
        MDB_val v = Val(*w.value);
        rc = mdb_put(txn, dbis.rows, &k, &v, 0);
      } else {
        rc = mdb_del(txn, dbis.rows, &k, nullptr);
        if (rc == MDB_NOTFOUND) rc = 0;
      }
      if (rc != 0) return rc;
    }
    for (uint64_t position : unpark) {
      rc = checkpoints_->UnparkIn(txn, ParkingName(name, version), position);
      if (rc != 0) return rc;
    }
    Record next = record.value_or(Record{});
    next.checkpoint = checkpoint;
    next.saved_ns = now;
    if (activate && (next.flags & kActive) == 0) {
      // Retire every other version of `name`.
      const std::string prefix = VersionKey(name, 0).substr(0, name.size() + 1);
      std::map<uint32_t, Record> others;
      MDB_cursor* cursor = nullptr;
      rc = mdb_cursor_open(txn, dbis.records, &cursor);
      if (rc != 0) return rc;
      MDB_val k = Val(prefix);
      MDB_val v;
      for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
           rc == 0 && StartsWith(View(k), prefix);
           rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        std::string n;
        uint32_t other = 0;
        if (!SplitKey(View(k), &n, &other) || n != name || other == version) {
          continue;
        }
        // A damaged record is retired too (rewritten intact): it must not
        // stay active beside this version.
        Result<Record> r = Decode(*env_, name, other, v);
        others[other] = r.ok() ? *r : Record{};
      }
      mdb_cursor_close(cursor);
      if (rc != 0 && rc != MDB_NOTFOUND) return rc;
      for (auto& [other, r] : others) {
        r.flags = (r.flags & ~kActive) | kRetired;
        rc = PutRecord(txn, dbis.records, name, other, r);
        if (rc != 0) return rc;
      }
      next.flags |= kActive;
    }
    return PutRecord(txn, dbis.records, name, version, next);
  });
}

Status ProjectionsImpl::Reset(std::string_view name, uint32_t version) {
  Status s = CheckWrite(name, version, "reset");
  if (!s.ok()) return s;
  const MDB_dbi rows = dbis_->rows;
  return UpdateCheckpoint(
      name, version, "reset", [&](MDB_txn* txn, uint64_t* checkpoint) {
        size_t deleted = 0;
        int rc = DeleteRows(txn, rows, VersionKey(name, version), SIZE_MAX,
                            &deleted);
        if (rc != 0) return rc;
        // Every event comes again: none stays parked.
        *checkpoint = 0;
        return checkpoints_->UnparkFromIn(txn, ParkingName(name, version));
      });
}

Status ProjectionsImpl::UpdateCheckpoint(
    std::string_view name, uint32_t version, std::string_view what,
    const std::function<int(MDB_txn*, uint64_t*)>& change) {
  const Dbis dbis = *dbis_;
  const int64_t now = clock_->NowNanos();
  return Run(64 + name.size(), [&](MDB_txn* txn, Status* op_status) {
    std::optional<Record> record;
    int rc =
        GetRecord(*env_, txn, dbis.records, name, version, &record, op_status);
    if (rc != 0 || !op_status->ok()) return rc;
    if (!record) {
      *op_status = Status::NotFound(fmt::format(
          "projection '{}' has no version {} to {}", name, version, what));
      return 0;
    }
    rc = change(txn, &record->checkpoint);
    if (rc != 0) return rc;
    record->saved_ns = now;
    return PutRecord(txn, dbis.records, name, version, *record);
  });
}

Status ProjectionsImpl::SetCheckpoint(std::string_view name, uint32_t version,
                                      uint64_t position) {
  Status s = CheckWrite(name, version, "set the checkpoint of");
  if (!s.ok()) return s;
  return UpdateCheckpoint(name, version, "move",
                          [&](MDB_txn* txn, uint64_t* checkpoint) {
                            // The events above `position` come again: none of
                            // them stays parked.
                            *checkpoint = position;
                            return checkpoints_->UnparkFromIn(
                                txn, ParkingName(name, version), position + 1);
                          });
}

Result<size_t> ProjectionsImpl::Sweep(std::string_view name, size_t limit) {
  Status s = CheckWrite(name, 1, "sweep");
  if (!s.ok()) return s;
  const Dbis dbis = *dbis_;
  size_t removed = 0;
  s = Run(64 + name.size(), [&](MDB_txn* txn, Status*) {
    removed = 0;
    const std::string prefix = VersionKey(name, 0).substr(0, name.size() + 1);
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, dbis.records, &cursor);
    if (rc != 0) return rc;
    MDB_val k = Val(prefix);
    MDB_val v;
    std::optional<uint32_t> retired;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
         rc == 0 && StartsWith(View(k), prefix) && !retired;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      std::string n;
      uint32_t version = 0;
      if (!SplitKey(View(k), &n, &version) || n != name) continue;
      Result<Record> r = Decode(*env_, name, version, v);
      if (r.ok() && (r->flags & kRetired) != 0) retired = version;
    }
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    if (!retired) return 0;
    rc =
        DeleteRows(txn, dbis.rows, VersionKey(name, *retired), limit, &removed);
    if (rc != 0 || removed >= limit) return rc;
    // Its parked events go with it: nobody will retry them.
    rc = checkpoints_->UnparkFromIn(txn, ParkingName(name, *retired));
    if (rc != 0) return rc;
    std::string key = VersionKey(name, *retired);
    MDB_val rk = Val(key);
    ++removed;
    return mdb_del(txn, dbis.records, &rk, nullptr);
  });
  if (!s.ok()) return s;
  return removed;
}

int ProjectionsImpl::Lowest(MDB_txn* txn, uint64_t* floor,
                            std::string* holder) {
  if (!dbis_) return 0;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, dbis_->records, &cursor);
  if (rc != 0) return rc;
  MDB_val k;
  MDB_val v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    std::string name;
    uint32_t version = 0;
    if (!SplitKey(View(k), &name, &version)) continue;
    Result<Record> r = Decode(*env_, name, version, v);
    if (r.ok() && (r->flags & kRetired) != 0) continue;
    const uint64_t position = r.ok() ? r->checkpoint : 0;
    if (position < *floor) {
      *floor = position;
      *holder = fmt::format("{}projection '{}' version {}",
                            r.ok() ? "" : "the damaged ", name, version);
    }
  }
  mdb_cursor_close(cursor);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

void ProjectionsImpl::Verify(MDB_txn* txn, VerifyContext* ctx) {
  std::optional<Dbis> dbis;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dbis = dbis_;
  }
  if (!dbis) return;
  auto problem = [&](std::string what) {
    ctx->Problem("", 0, 0, std::move(what));
  };
  // name -> versions with a record; names with an active version.
  std::map<std::string, std::map<uint32_t, bool>> known;
  MDB_cursor* cursor = nullptr;
  MDB_val k;
  MDB_val v;
  int rc = mdb_cursor_open(txn, dbis->records, &cursor);
  for (rc = rc != 0 ? rc : mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    ++ctx->report().projection_versions;
    ctx->Tick();
    std::string name;
    uint32_t version = 0;
    if (!SplitKey(View(k), &name, &version)) {
      problem(fmt::format("projections: a record key of {} bytes is malformed",
                          k.mv_size));
      continue;
    }
    Result<Record> r = Decode(*env_, name, version, v);
    if (!r.ok()) {
      problem(std::string(r.status().message()));
      known[name][version] = false;
      continue;
    }
    const bool active = (r->flags & kActive) != 0;
    if (active && (r->flags & kRetired) != 0) {
      problem(
          fmt::format("projection '{}' version {} is both active and "
                      "retired",
                      name, version));
    }
    auto& versions = known[name];
    if (active) {
      for (const auto& [other, other_active] : versions) {
        if (other_active) {
          problem(
              fmt::format("projection '{}' has two active versions, {} "
                          "and {}",
                          name, other, version));
        }
      }
    }
    versions[version] = active;
  }
  if (cursor != nullptr) mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) {
    problem(std::string(MdbStatus(rc, "reading projection records").message()));
  }
  cursor = nullptr;
  std::string last_orphan;
  rc = mdb_cursor_open(txn, dbis->rows, &cursor);
  for (rc = rc != 0 ? rc : mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    ++ctx->report().projection_rows;
    ctx->Tick();
    const std::string_view key = View(k);
    const size_t nul = key.find('\0');
    std::string name;
    uint32_t version = 0;
    if (nul == std::string_view::npos || key.size() < nul + 5 ||
        !SplitKey(key.substr(0, nul + 5), &name, &version)) {
      problem(
          fmt::format("projection_rows: a row key of {} bytes is "
                      "malformed",
                      k.mv_size));
      continue;
    }
    auto it = known.find(name);
    if (it != known.end() && it->second.count(version) != 0) continue;
    const std::string orphan = fmt::format("{}/{}", name, version);
    if (orphan == last_orphan) continue;  // one problem per version
    last_orphan = orphan;
    problem(
        fmt::format("projection '{}' version {} has rows but no record; "
                    "its rows cannot be read or reset",
                    name, version));
  }
  if (cursor != nullptr) mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) {
    problem(std::string(MdbStatus(rc, "reading projection rows").message()));
  }
}

}  // namespace memoir::internal

namespace memoir {

std::string ProjectionParkingName(std::string_view name, uint32_t version) {
  return internal::ParkingName(name, version);
}

namespace {
// Keeps the Store's ProjectionsImpl, which the Store owns.
class Borrowed final : public ProjectionStore {
 public:
  explicit Borrowed(ProjectionStore* impl) : impl_(impl) {}
  Result<std::vector<ProjectionVersion>> List() override {
    return impl_->List();
  }
  Result<std::unique_ptr<ProjectionSnapshot>> Read(
      std::string_view name) override {
    return impl_->Read(name);
  }
  Result<std::unique_ptr<ProjectionSnapshot>> ReadVersion(
      std::string_view name, uint32_t version) override {
    return impl_->ReadVersion(name, version);
  }
  Status Commit(std::string_view name, uint32_t version, uint64_t expected,
                uint64_t checkpoint, std::span<const ProjectionWrite> writes,
                bool activate, std::span<const uint64_t> unpark) override {
    return impl_->Commit(name, version, expected, checkpoint, writes, activate,
                         unpark);
  }
  Status Reset(std::string_view name, uint32_t version) override {
    return impl_->Reset(name, version);
  }
  Status SetCheckpoint(std::string_view name, uint32_t version,
                       uint64_t position) override {
    return impl_->SetCheckpoint(name, version, position);
  }
  Result<size_t> Sweep(std::string_view name, size_t limit) override {
    return impl_->Sweep(name, limit);
  }
  bool SupportsInline() const override { return impl_->SupportsInline(); }
  Result<std::unique_ptr<InlineAttachment>> AttachInline(
      InlineProjection projection, uint64_t checkpoint) override {
    return impl_->AttachInline(std::move(projection), checkpoint);
  }

 private:
  ProjectionStore* impl_;
};
}  // namespace

Result<std::unique_ptr<ProjectionStore>> InStoreProjections(Store& store) {
  Result<internal::StoreParts> parts = internal::StoreInternal::PartsOf(store);
  if (!parts.ok()) return parts.status();
  return std::unique_ptr<ProjectionStore>(
      std::make_unique<Borrowed>(parts->projections));
}

}  // namespace memoir

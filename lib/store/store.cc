// Store: wires the environment, the writer thread and the journal together.
#include "memoir/store.h"

#include <fmt/format.h>

#include "journal/journal_impl.h"
#include "journal/record.h"
#include "memoir/postgres.h"
#include "snapshot/snapshot_store_impl.h"
#include "storage/env.h"
#include "storage/writer.h"
#include "store/checkpoints.h"
#include "store/messages.h"
#include "store/projections.h"
#include "store/store_internal.h"

namespace memoir {
namespace {

using internal::Env;
using internal::JournalImpl;
using internal::JournalLink;
using internal::PreparedAppend;
using internal::SnapshotStoreImpl;
using internal::Writer;

// One stream's append, encoded in the caller's thread and applied by the
// journal inside the transaction of a snapshot op.
class JournalPreparedAppend final : public PreparedAppend {
 public:
  JournalPreparedAppend(JournalImpl* journal, StreamAppend request)
      : journal_(journal) {
    requests_.push_back(std::move(request));
    records_.resize(1);
    for (EventData& e : requests_[0].events) {
      records_[0].push_back(internal::EventRecord::Encode(e));
      bytes_ += records_[0].back().size() + 64;
      std::string().swap(e.payload);  // the record holds the bytes now
    }
  }
  size_t bytes() const override { return bytes_; }
  int Apply(MDB_txn* txn, Status* op_status) override {
    results_.clear();
    return journal_->ApplyAppend(txn, requests_, records_, &results_,
                                 op_status);
  }
  AppendResult result() const override { return results_.front(); }

 private:
  JournalImpl* journal_;
  // The journal keeps pointers to the events' tags until the commit.
  std::vector<StreamAppend> requests_;
  std::vector<std::vector<internal::EventRecord>> records_;
  std::vector<AppendResult> results_;
  size_t bytes_ = 0;
};

JournalLink LinkTo(JournalImpl* j) {
  JournalLink link;
  link.writer_lookup = [j](MDB_txn* txn, std::string_view name,
                           JournalLink::StreamHead* out, int* rc) {
    JournalImpl::StreamState st;
    Status s = j->WriterLookup(txn, name, &st, rc);
    if (s.ok() && *rc == 0) *out = {st.id, st.head, st.deleted};
    return s;
  };
  link.stream_id = [j](MDB_txn* txn, std::string_view name) {
    return j->StreamId(txn, name);
  };
  link.prepare_append =
      [j](StreamAppend request) -> Result<std::unique_ptr<PreparedAppend>> {
    Status s = JournalImpl::ValidateRequest(request);
    if (!s.ok()) return s;
    j->GenerateIds(&request);
    return std::unique_ptr<PreparedAppend>(
        new JournalPreparedAppend(j, std::move(request)));
  };
  return link;
}

class StoreImpl final : public Store {
 public:
  ~StoreImpl() override {
    if (env_ && env_->forked()) {
      // In a forked child nothing of the parent's store may be touched, not
      // even to close it: leak it deliberately; exit reclaims the memory.
      (void)journal_.release();
      (void)snapshots_.release();
      (void)writer_.release();
      (void)env_.release();
      return;
    }
    (void)Close();
  }

  static Result<std::unique_ptr<Store>> Open(const std::string& path,
                                             const StoreOptions& options) {
    std::unique_ptr<StoreImpl> store(new StoreImpl());
    store->path_ = path;
    Result<std::unique_ptr<Env>> env = Env::Open(path, options);
    if (!env.ok()) return env.status();
    store->env_ = std::move(env).value();
    if (!options.read_only) {
      store->writer_ = std::make_unique<Writer>(store->env_.get());
    }
    std::shared_ptr<Clock> clock =
        options.clock ? options.clock : Clock::System();
    Result<std::unique_ptr<JournalImpl>> journal =
        JournalImpl::Open(store->env_.get(), store->writer_.get(), clock);
    if (!journal.ok()) return journal.status();
    store->journal_ = std::move(journal).value();
    Result<std::unique_ptr<SnapshotStoreImpl>> snapshots =
        SnapshotStoreImpl::Open(store->env_.get(), store->writer_.get(), clock,
                                LinkTo(store->journal_.get()));
    if (!snapshots.ok()) return snapshots.status();
    store->snapshots_ = std::move(snapshots).value();
    // Tombstoning a stream deletes its snapshots in the same transaction.
    SnapshotStoreImpl* snaps = store->snapshots_.get();
    store->journal_->AddDeletionHook([snaps](MDB_txn* txn, uint64_t id) {
      return snaps->DeleteStreamSnapshots(txn, id);
    });
    Result<std::unique_ptr<internal::CheckpointsImpl>> checkpoints =
        internal::CheckpointsImpl::Open(store->env_.get(), store->writer_.get(),
                                        clock);
    if (!checkpoints.ok()) return checkpoints.status();
    store->checkpoints_ = std::move(checkpoints).value();
    Result<std::unique_ptr<internal::ProjectionsImpl>> projections =
        internal::ProjectionsImpl::Open(store->env_.get(), store->writer_.get(),
                                        clock, store->checkpoints_.get());
    if (!projections.ok()) return projections.status();
    store->projections_ = std::move(projections).value();
    // Inline projections read the log inside the writer's transaction.
    JournalImpl* j = store->journal_.get();
    store->projections_->SetLog(
        {[j](MDB_txn* txn, uint64_t* head) { return j->LogHeadIn(txn, head); },
         [j](MDB_txn* txn, uint64_t from, uint64_t bound,
             const EventVisitor& visit) {
           return j->ScanLogIn(txn, from, bound, SIZE_MAX,
                               /*remember=*/false, visit);
         }});
    // Deletions stop at the lowest consumer's checkpoint (journal.h).
    internal::CheckpointsImpl* cps = store->checkpoints_.get();
    internal::ProjectionsImpl* pjs = store->projections_.get();
    store->journal_->SetRetentionFloor(
        [cps, pjs](MDB_txn* txn, uint64_t* floor, std::string* holder) {
          int rc = cps->Lowest(txn, floor, holder);
          return rc != 0 ? rc : pjs->Lowest(txn, floor, holder);
        });
    Result<std::unique_ptr<internal::MessagesImpl>> messages =
        internal::MessagesImpl::Open(store->env_.get(), store->writer_.get(),
                                     clock, LinkTo(store->journal_.get()));
    if (!messages.ok()) return messages.status();
    store->messages_ = std::move(messages).value();
    store->parts_ = {store->env_.get(),         store->journal_.get(),
                     store->snapshots_.get(),   store->checkpoints_.get(),
                     store->projections_.get(), store->messages_.get()};
    if (store->writer_) store->writer_->Start();
    return std::unique_ptr<Store>(std::move(store));
  }

  Journal& journal() override { return *journal_; }
  SnapshotStore& snapshots() override { return *snapshots_; }

  Status Sync() override {
    Status s = env_->CheckProcess();
    if (!s.ok()) return s;
    if (!writer_) {
      return Status::InvalidArgument(
          fmt::format("store {} is open read-only; nothing to sync", path_));
    }
    return writer_->Sync();
  }

  Status Close() override {
    if (!writer_) return Status::OK();
    return writer_->Close();
  }

  const std::string& path() const override { return path_; }

  StoreStats Stats() const override {
    StoreStats stats;
    if (writer_) {
      internal::WriterStats w = writer_->stats();
      stats.commits = w.commits;
      stats.write_requests = w.ops;
      stats.max_group = w.max_group;
      stats.map_growths = w.map_growths;
    }
    stats.map_size = env_->map_size();
    return stats;
  }

 private:
  StoreImpl() = default;
  internal::StoreParts* internal_parts() noexcept override { return &parts_; }

  std::string path_;
  // Destruction order matters: the writer (which calls into the journal
  // and the snapshots) stops before they go, and all before the environment.
  std::unique_ptr<Env> env_;
  std::unique_ptr<JournalImpl> journal_;
  std::unique_ptr<SnapshotStoreImpl> snapshots_;
  std::unique_ptr<internal::CheckpointsImpl> checkpoints_;
  std::unique_ptr<internal::ProjectionsImpl> projections_;
  std::unique_ptr<internal::MessagesImpl> messages_;
  std::unique_ptr<Writer> writer_;
  internal::StoreParts parts_;  // set once Open has made them all
};

}  // namespace

namespace internal {
Result<StoreParts> StoreInternal::PartsOf(Store& store) {
  StoreParts* parts = store.internal_parts();
  if (parts == nullptr) {
    return Status::InvalidArgument(fmt::format(
        "store {}: this needs an LMDB store opened by memoir::Store::Open "
        "(checkpoints kept in the store, projections, durable messages and "
        "the whole-store tools verify, inspect, copy and repair are LMDB's "
        "alone for now); a PostgreSQL store or a Store of another kind has "
        "none",
        store.path()));
  }
  Status s = parts->env->CheckProcess();
  if (!s.ok()) return s;
  return *parts;
}
}  // namespace internal

Result<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                           const StoreOptions& options) {
  // A PostgreSQL store (memoir/postgres.h; says so when not built).
  if (IsPostgresUri(path)) return OpenPostgres(path, options);
  return StoreImpl::Open(path, options);
}

}  // namespace memoir

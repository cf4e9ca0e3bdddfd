// Store: wires the environment, the writer thread and the journal together.
#include "memoir/store.h"

#include <fmt/format.h>

#include "journal/journal_impl.h"
#include "storage/env.h"
#include "storage/writer.h"

namespace memoir {
namespace {

using internal::Env;
using internal::JournalImpl;
using internal::Writer;

class StoreImpl final : public Store {
 public:
  ~StoreImpl() override {
    if (env_ && env_->forked()) {
      // In a forked child nothing of the parent's store may be touched, not
      // even to close it: leak it deliberately; exit reclaims the memory.
      (void)journal_.release();
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
    if (store->writer_) store->writer_->Start();
    return std::unique_ptr<Store>(std::move(store));
  }

  Journal& journal() override { return *journal_; }

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
  std::string path_;
  // Destruction order matters: the writer (which calls into the journal)
  // stops before the journal goes, and both before the environment.
  std::unique_ptr<Env> env_;
  std::unique_ptr<JournalImpl> journal_;
  std::unique_ptr<Writer> writer_;
};

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                           const StoreOptions& options) {
  return StoreImpl::Open(path, options);
}

}  // namespace memoir

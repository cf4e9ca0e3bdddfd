// VerifyStore (memoir/inspect.h): the journal's and the snapshots' checks
// in one read transaction.
#include "journal/verify.h"

#include <fmt/format.h>

#include <string_view>
#include <unordered_map>

#include "memoir/inspect.h"
#include "snapshot/snapshot_store_impl.h"
#include "snapshot/verify.h"
#include "storage/env.h"
#include "store/checkpoints.h"
#include "store/messages.h"
#include "store/projections.h"
#include "store/store_internal.h"

namespace memoir {

Result<VerifyReport> VerifyStore(Store& store, const VerifyOptions& options) {
  Result<internal::StoreParts> parts = internal::StoreInternal::PartsOf(store);
  if (!parts.ok()) return parts.status();
  // Databases a writer added since a read-only open, before the snapshot.
  const internal::CheckpointsImpl::Handles checkpoints =
      parts->checkpoints->Refresh();
  parts->projections->Refresh();
  parts->messages->Refresh();
  Result<internal::ReadTxn> txn = parts->env->BeginRead();
  if (!txn.ok()) return txn.status();
  VerifyReport report;
  internal::VerifyContext ctx(&report, options);
  internal::StreamFactsMap facts;
  Status s = internal::VerifyJournal(txn->get(), parts->journal->dbs(),
                                     options.stream, &ctx, &facts);
  if (!s.ok()) return s.WithContext(fmt::format("verifying {}", store.path()));
  const internal::SnapshotStoreImpl& snapshots = *parts->snapshots;
  if (snapshots.present() && (options.stream.empty() || !facts.empty())) {
    uint64_t only = options.stream.empty() ? 0 : facts.begin()->first;
    internal::VerifySnapshots(txn->get(), snapshots.dbi(), only, facts, &ctx);
  }
  if (options.stream.empty()) {
    parts->checkpoints->Verify(txn->get(), checkpoints, &ctx);
    parts->projections->Verify(txn->get(), &ctx);
    std::unordered_map<std::string_view, uint64_t> heads;
    for (const auto& [id, f] : facts) heads[f.name] = f.head;
    parts->messages->Verify(txn->get(), &ctx, [&](std::string_view stream) {
      auto it = heads.find(stream);
      return it == heads.end() ? uint64_t{0} : it->second;
    });
  }
  return report;
}

}  // namespace memoir

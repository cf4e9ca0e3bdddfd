// The journal's integrity check (memoir/inspect.h, VerifyStore): reads the
// tables of journal/layout.h in one read transaction and checks them
// against each other.
#ifndef MEMOIR_JOURNAL_VERIFY_H_
#define MEMOIR_JOURNAL_VERIFY_H_

#include <lmdb.h>

#include <string_view>

#include "journal/journal_impl.h"
#include "memoir/status.h"
#include "storage/verify_context.h"

namespace memoir::internal {

// Checks the journal in `txn`: the whole journal when `only` is empty,
// otherwise the stream named `only`. Problems go to `ctx`; every stream
// checked is described in `facts`. Returns kNotFound when `only` does not
// exist, kInvalidArgument when it is not a valid name, and an LMDB error
// only when the check cannot start; damage met on the way is a problem.
Status VerifyJournal(MDB_txn* txn, const JournalImpl::Dbs& dbs,
                     std::string_view only, VerifyContext* ctx,
                     StreamFactsMap* facts);

}  // namespace memoir::internal

#endif  // MEMOIR_JOURNAL_VERIFY_H_

// The rules every backend checks before a write is queued: stream names,
// event and snapshot sizes, type names, tags and event ids (journal.h,
// snapshot_store.h). Shared by the LMDB journal and snapshot store and the
// PostgreSQL backend, so that both refuse the same requests with the same
// words.
#ifndef MEMOIR_BASE_APPEND_RULES_H_
#define MEMOIR_BASE_APPEND_RULES_H_

#include <cstdint>
#include <string_view>

#include "memoir/journal.h"
#include "memoir/snapshot_store.h"
#include "memoir/status.h"

namespace memoir::internal {

// OK, or kInvalidArgument saying which rule `request` breaks: a bad stream
// name, no events, an event's type, payload, tags or metadata out of
// bounds, ids on some events but not all, or an id given twice.
Status ValidateAppendRequest(const StreamAppend& request);

// OK, or kInvalidArgument for a save of `data` as `stream`'s state after
// `seq` that breaks a rule (seq 0, type, sizes, stream name).
Status ValidateSave(std::string_view stream, uint64_t seq,
                    const SnapshotData& data);

}  // namespace memoir::internal

#endif  // MEMOIR_BASE_APPEND_RULES_H_

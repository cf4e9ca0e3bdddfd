// Damaged records in the unindexed tail, as reads meet them (tail_index.h
// holds the records; journal_tail.cc finds them): which seqs of a stream one
// may hide, and the advice every error about one carries.
#ifndef MEMOIR_JOURNAL_TAIL_DAMAGE_H_
#define MEMOIR_JOURNAL_TAIL_DAMAGE_H_

#include <cstdint>
#include <vector>

#include "journal/tail_index.h"

namespace memoir::internal {

// What to do about a damaged log record, for messages.
inline constexpr const char* kDamageAdvice =
    "'memoir verify STORE' lists every damaged record; 'memoir repair STORE' "
    "restores records damaged by one flipped bit, otherwise restore the "
    "store from a backup";

// The seqs of stream `id` that `damage` may hide, as an interval; empty
// (first > last) when the record cannot be one of the stream's.
//  - A proven record hides exactly the seq it holds, of its own stream.
//  - An unproven one lying above the stream's newest intact event may be
//    any of the stream's later events, whatever it claims (the damage may
//    be in the claim). Below that, a seq above the head it claims for this
//    stream is taken at its word; any other seq it could hide would leave
//    a gap, which the read finds by itself.
struct Hidden {
  uint64_t first = 1, last = 0;
  bool claimed = false;  // [first, last] is the seq the record claims
};
// `head` is the stream's head as its intact records show it;
// `newest_position` that of its newest unindexed intact event (0: none).
Hidden HiddenSeqs(const TailDamage& damage, uint64_t id, uint64_t head,
                  uint64_t newest_position);

// The position of the newest event of a stream whose indexed head is
// `indexed_head` and whose visible tail entries are `tail`; 0 when all its
// events are indexed (they lie at or below indexed_to, below any damage).
uint64_t NewestTailPosition(uint64_t indexed_head,
                            const std::vector<TailEntry>& tail);

}  // namespace memoir::internal

#endif  // MEMOIR_JOURNAL_TAIL_DAMAGE_H_

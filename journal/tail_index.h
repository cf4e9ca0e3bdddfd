// The unindexed tail: events committed above `journal.indexed_to` that are
// not yet in stream_index, tag_index or their stream rows (layout.h).
//
// Entries live in one vector in commit order, each linked to the previous
// entry of its stream, so adding one is an append plus one hash-map update
// (no per-stream allocation) and a stream's entries are found by walking
// its chain back from its newest entry.
//
// Not thread-safe by itself; JournalImpl guards it.
#ifndef MEMOIR_JOURNAL_TAIL_INDEX_H_
#define MEMOIR_JOURNAL_TAIL_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace memoir::internal {

struct TailEntry {
  uint64_t seq;
  uint64_t position;
  int64_t timestamp_ns;
};

// A record in the tail that failed its checks (only a reader's tail holds
// any: a writer refuses such a store). It is left out of the entries; this
// says whose it is, as far as the record can tell (ClaimEventIdentity).
struct TailDamage {
  uint64_t position = 0;
  uint64_t stream_id = 0;  // 0: the record does not say whose it is
  uint64_t seq = 0;
  bool proven = false;  // identity proven by a one-bit repair
  std::string reason;   // why it failed its checks
};

class TailIndex {
 public:
  // Stored indexes cover positions up to here; entries lie above it.
  uint64_t indexed_to = 0;
  // Highest position reflected (the view's bound).
  uint64_t last_position = 0;
  // Per tag (and per type, under TypeIndexTag): ascending positions.
  std::map<std::string, std::vector<uint64_t>, std::less<>> tags;
  // Damaged records, ascending position.
  std::vector<TailDamage> damaged;

  // Entries held.
  size_t count() const { return nodes_.size(); }

  // Adds an entry. REQUIRES: its position is above every entry's so far.
  template <typename Tags>
  void Add(uint64_t stream_id, const TailEntry& entry, const Tags& entry_tags) {
    auto [it, inserted] = streams_.try_emplace(stream_id, kNone);
    nodes_.push_back(Node{stream_id, entry, it->second});
    it->second = nodes_.size() - 1;
    for (std::string_view t : entry_tags) AddTag(t, entry.position);
    if (entry.position > last_position) last_position = entry.position;
  }
  // Adds `position` under `tag` (a tag, or TypeIndexTag of a type).
  // REQUIRES: it is above the tag's positions so far.
  void AddTag(std::string_view tag, uint64_t position) {
    auto it = tags.find(tag);
    if (it == tags.end()) {
      it = tags.emplace(std::string(tag), std::vector<uint64_t>{}).first;
    }
    it->second.push_back(position);
  }

  // Appends to *out the entries of stream `id` with `after` < position <=
  // `bound`, in ascending seq.
  void Collect(uint64_t id, uint64_t after, uint64_t bound,
               std::vector<TailEntry>* out) const;

  // The newest seq of stream `id` in the tail; false when it has none.
  bool LastSeq(uint64_t id, uint64_t* seq) const;

  // Calls f(stream id) once for every stream with entries.
  template <typename F>
  void ForEachStream(F&& f) const {
    for (const auto& [id, newest] : streams_) f(id);
  }

  // Drops entries at or below `position` (they are now indexed).
  void PruneTo(uint64_t position);

  void Clear();

 private:
  static constexpr size_t kNone = ~size_t{0};
  struct Node {
    uint64_t stream_id;
    TailEntry entry;
    size_t previous;  // the stream's previous node, or kNone
  };
  std::vector<Node> nodes_;                       // ascending position
  std::unordered_map<uint64_t, size_t> streams_;  // id -> newest node
};

}  // namespace memoir::internal

#endif  // MEMOIR_JOURNAL_TAIL_INDEX_H_

// The unindexed tail: events committed above `journal.indexed_to` that are
// not yet in stream_index, tag_index or their stream rows (layout.h).
//
// Not thread-safe by itself; JournalImpl guards it.
#ifndef MEMOIR_JOURNAL_TAIL_INDEX_H_
#define MEMOIR_JOURNAL_TAIL_INDEX_H_

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

struct TailIndex {
  // Stored indexes cover positions up to here; entries lie above it.
  uint64_t indexed_to = 0;
  // Highest position reflected (the view's bound).
  uint64_t last_position = 0;
  // Per stream id: entries in ascending seq (and so ascending position).
  std::unordered_map<uint64_t, std::vector<TailEntry>> streams;
  // Per tag: ascending positions.
  std::map<std::string, std::vector<uint64_t>, std::less<>> tags;
  size_t count = 0;

  template <typename Tags>
  void Add(uint64_t stream_id, const TailEntry& entry, const Tags& entry_tags) {
    streams[stream_id].push_back(entry);
    for (std::string_view t : entry_tags) {
      auto it = tags.find(t);
      if (it == tags.end())
        it = tags.emplace(std::string(t), std::vector<uint64_t>{}).first;
      it->second.push_back(entry.position);
    }
    ++count;
    if (entry.position > last_position) last_position = entry.position;
  }

  // Drops entries at or below `position` (they are now indexed).
  void PruneTo(uint64_t position);

  void Clear() {
    streams.clear();
    tags.clear();
    count = 0;
  }
};

}  // namespace memoir::internal

#endif  // MEMOIR_JOURNAL_TAIL_INDEX_H_

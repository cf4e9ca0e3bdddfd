#include "journal/tail_index.h"

#include <algorithm>

namespace memoir::internal {

void TailIndex::Collect(uint64_t id, uint64_t after, uint64_t bound,
                        std::vector<TailEntry>* out) const {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  const size_t first = out->size();
  for (size_t n = it->second; n != kNone; n = nodes_[n].previous) {
    const TailEntry& e = nodes_[n].entry;
    if (e.position <= after) break;
    if (e.position <= bound) out->push_back(e);
  }
  std::reverse(out->begin() + static_cast<std::ptrdiff_t>(first), out->end());
}

bool TailIndex::LastSeq(uint64_t id, uint64_t* seq) const {
  auto it = streams_.find(id);
  if (it == streams_.end()) return false;
  *seq = nodes_[it->second].entry.seq;
  return true;
}

void TailIndex::PruneTo(uint64_t position) {
  // Entries are in ascending position: keep the suffix above `position`,
  // relinking it (after an index flush it is short or empty).
  auto keep = std::partition_point(
      nodes_.begin(), nodes_.end(),
      [&](const Node& n) { return n.entry.position <= position; });
  std::vector<Node> kept(keep, nodes_.end());
  nodes_.clear();
  streams_.clear();
  for (const Node& n : kept) {
    auto [it, inserted] = streams_.try_emplace(n.stream_id, kNone);
    nodes_.push_back(Node{n.stream_id, n.entry, it->second});
    it->second = nodes_.size() - 1;
  }
  for (auto it = tags.begin(); it != tags.end();) {
    auto& v = it->second;
    v.erase(v.begin(), std::upper_bound(v.begin(), v.end(), position));
    it = v.empty() ? tags.erase(it) : std::next(it);
  }
  damaged.erase(damaged.begin(),
                std::partition_point(damaged.begin(), damaged.end(),
                                     [&](const TailDamage& d) {
                                       return d.position <= position;
                                     }));
  if (indexed_to < position) indexed_to = position;
}

void TailIndex::Clear() {
  nodes_.clear();
  streams_.clear();
  tags.clear();
  damaged.clear();
}

}  // namespace memoir::internal

#include "journal/tail_index.h"

#include <algorithm>

namespace memoir::internal {

void TailIndex::PruneTo(uint64_t position) {
  for (auto it = streams.begin(); it != streams.end();) {
    auto& v = it->second;
    auto keep = std::find_if(v.begin(), v.end(), [&](const TailEntry& e) {
      return e.position > position;
    });
    count -= static_cast<size_t>(keep - v.begin());
    v.erase(v.begin(), keep);
    it = v.empty() ? streams.erase(it) : std::next(it);
  }
  for (auto it = tags.begin(); it != tags.end();) {
    auto& v = it->second;
    v.erase(v.begin(), std::upper_bound(v.begin(), v.end(), position));
    it = v.empty() ? tags.erase(it) : std::next(it);
  }
  if (indexed_to < position) indexed_to = position;
}

}  // namespace memoir::internal

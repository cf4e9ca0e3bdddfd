// The unindexed tail (journal/tail_index.h): per-stream chains in one
// vector, pruned after an index flush.
#include "journal/tail_index.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace memoir::internal {
namespace {

const std::vector<std::string> kNoTags;

std::vector<uint64_t> Seqs(const TailIndex& tail, uint64_t id, uint64_t after,
                           uint64_t bound) {
  std::vector<TailEntry> entries;
  tail.Collect(id, after, bound, &entries);
  std::vector<uint64_t> seqs;
  for (const TailEntry& e : entries) seqs.push_back(e.seq);
  return seqs;
}

}  // namespace

TEST_CASE("each stream's entries come back in seq order within bounds") {
  TailIndex tail;
  // Positions 1..9 alternate between streams 7 and 9, 9 getting every third.
  uint64_t seq7 = 0, seq9 = 0;
  for (uint64_t pos = 1; pos <= 9; ++pos) {
    if (pos % 3 == 0) {
      tail.Add(9, TailEntry{++seq9, pos, 0}, kNoTags);
    } else {
      tail.Add(7, TailEntry{++seq7, pos, 0}, kNoTags);
    }
  }
  CHECK(tail.count() == 9);
  CHECK(tail.last_position == 9);
  CHECK(Seqs(tail, 7, 0, 100) == std::vector<uint64_t>{1, 2, 3, 4, 5, 6});
  CHECK(Seqs(tail, 9, 0, 100) == std::vector<uint64_t>{1, 2, 3});
  // Positions 4..8 only: stream 7 has 4, 5, 7, 8 (seqs 3..6 minus none).
  CHECK(Seqs(tail, 7, 3, 8) == std::vector<uint64_t>{3, 4, 5, 6});
  CHECK(Seqs(tail, 9, 3, 8) == std::vector<uint64_t>{2});
  CHECK(Seqs(tail, 8, 0, 100).empty());
  uint64_t last = 0;
  CHECK(tail.LastSeq(7, &last));
  CHECK(last == 6);
  CHECK(!tail.LastSeq(8, &last));
  size_t streams = 0;
  tail.ForEachStream([&](uint64_t) { ++streams; });
  CHECK(streams == 2);
}

TEST_CASE("pruning keeps only entries above the indexed position") {
  TailIndex tail;
  const std::vector<std::string> tags = {"t"};
  for (uint64_t pos = 1; pos <= 6; ++pos) {
    tail.Add(pos % 2 + 1, TailEntry{(pos + 1) / 2, pos, 0}, tags);
  }
  tail.PruneTo(4);
  CHECK(tail.indexed_to == 4);
  CHECK(tail.count() == 2);
  CHECK(Seqs(tail, 1, 0, 100) == std::vector<uint64_t>{3});  // position 6
  CHECK(Seqs(tail, 2, 0, 100) == std::vector<uint64_t>{3});  // position 5
  CHECK(tail.tags.at("t") == std::vector<uint64_t>{5, 6});
  // Adding continues the chains after a prune.
  tail.Add(1, TailEntry{4, 7, 0}, kNoTags);
  CHECK(Seqs(tail, 1, 0, 100) == std::vector<uint64_t>{3, 4});
  tail.PruneTo(7);
  CHECK(tail.count() == 0);
  CHECK(tail.tags.empty());
  uint64_t last = 0;
  CHECK(!tail.LastSeq(1, &last));
}

}  // namespace memoir::internal

// VerifyContext: where the layers' integrity checks (journal/verify.h,
// snapshot/verify.h) put what they find, shared so that one VerifyReport
// gathers the problems of every layer in the order they were found.
//
// Not thread-safe: one check runs on one thread.
#ifndef MEMOIR_STORAGE_VERIFY_CONTEXT_H_
#define MEMOIR_STORAGE_VERIFY_CONTEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "memoir/inspect.h"
#include "storage/key_order.h"
#include "storage/lmdb_error.h"

namespace memoir::internal {

class VerifyContext {
 public:
  VerifyContext(VerifyReport* report, const VerifyOptions& options)
      : report_(report), options_(options) {}

  void Problem(std::string_view stream, uint64_t seq, uint64_t position,
               std::string what) {
    ++report_->problem_count;
    if (report_->problems.size() < options_.max_problems) {
      report_->problems.push_back(
          VerifyProblem{std::string(stream), seq, position, std::move(what)});
    }
  }

  // For a walk of `table`: true when `k` sorts after the key before it;
  // otherwise reports that the table's pages repeat or loop, and the walk
  // must stop (it could revisit the same records without end).
  bool InOrder(KeyOrder& order, const MDB_val& k, std::string_view table) {
    if (order.Next(k)) return true;
    Problem("", 0, 0,
            std::string(KeysOutOfOrder(table, order.Describe(k)).message()));
    return false;
  }

  // Counts one checked record and reports progress every 256 of them.
  void Tick() {
    if (++records_ % 256 == 0 && options_.progress) options_.progress(records_);
  }

  VerifyReport& report() { return *report_; }
  const VerifyOptions& options() const { return options_; }

 private:
  VerifyReport* report_;
  const VerifyOptions& options_;
  uint64_t records_ = 0;
};

// What the journal check learned about a stream, for the checks of layers
// stored beside it (a snapshot must belong to a live stream, at or below
// its head).
struct StreamFacts {
  std::string name;
  uint64_t head = 0;  // including the unindexed tail
  bool deleted = false;
};
using StreamFactsMap = std::unordered_map<uint64_t, StreamFacts>;

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_VERIFY_CONTEXT_H_

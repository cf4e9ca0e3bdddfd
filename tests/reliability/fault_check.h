// The checks of one run of the I/O fault sweep (fault_sweep_test.cc): what
// the child reported against the store's contract, and the store itself,
// reopened without faults, against what was acknowledged.
#ifndef MEMOIR_TESTS_RELIABILITY_FAULT_CHECK_H_
#define MEMOIR_TESTS_RELIABILITY_FAULT_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "reliability/fault_run.h"

namespace memoir::test {

struct Figures {
  uint64_t runs = 0, points = 0, acked_events = 0, acked_snapshots = 0;
  uint64_t lost = 0, damaged = 0, partial = 0, phantom = 0, gaps = 0;
  uint64_t errors_io = 0, errors_full = 0;
  uint64_t full_then_same_store_ok = 0, refused_until_reopen = 0;
  uint64_t sync_enospc_final = 0;
  uint64_t meta_enospc_panics = 0, close_swallowed_enospc = 0;
  uint64_t problem_runs = 0;
  uint64_t messages = 0;  // durable messages checked (sent events)

  Figures& operator+=(const Figures& o) {
    uint64_t Figures::*fields[] = {&Figures::runs,
                                   &Figures::points,
                                   &Figures::acked_events,
                                   &Figures::acked_snapshots,
                                   &Figures::lost,
                                   &Figures::damaged,
                                   &Figures::partial,
                                   &Figures::phantom,
                                   &Figures::gaps,
                                   &Figures::errors_io,
                                   &Figures::errors_full,
                                   &Figures::full_then_same_store_ok,
                                   &Figures::refused_until_reopen,
                                   &Figures::sync_enospc_final,
                                   &Figures::meta_enospc_panics,
                                   &Figures::close_swallowed_enospc,
                                   &Figures::problem_runs,
                                   &Figures::messages};
    for (auto field : fields) this->*field += o.*field;
    return *this;
  }
};

// Checks one run of the child under `fault` on `store` (a directory the
// child has finished with): the problems found (none: the run passed), and
// the figures, added to `f`.
std::vector<std::string> CheckFaultRun(const Fault& fault, const ChildRun& run,
                                       const Report& report,
                                       const std::string& store, Figures* f);

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_RELIABILITY_FAULT_CHECK_H_

// The I/O fault sweep's plumbing (fault_sweep_test.cc): running
// fault_child under one fault with a deadline, and reading its report (the
// lines fault_workload.h lists).
#ifndef MEMOIR_TESTS_RELIABILITY_FAULT_RUN_H_
#define MEMOIR_TESTS_RELIABILITY_FAULT_RUN_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "memoir/status.h"

namespace memoir::test {

// One fault: the nth call of `op` ("any" for every op) fails.
struct Fault {
  std::string op;  // empty: no fault
  uint64_t nth = 0;
  bool enospc = false;
  bool persistent = false;
  // The store's durability in the child: sync, nometasync or none.
  std::string durability = "sync";

  std::string Name() const;
};

struct ChildRun {
  std::string setup_error;  // the child could not be started
  bool hung = false;        // killed after the timeout
  std::chrono::seconds timeout{0};
  int status = 0;
  std::vector<std::string> lines;
};

// Runs the fault_child executable at `child` on `store` under `fault`,
// collecting its lines as they come. A child still running after `timeout`
// is killed and reported as hung.
ChildRun RunFaultChild(const std::string& child, const std::string& store,
                       const Fault& fault, bool long_form,
                       std::chrono::seconds timeout);

// --- What the child reported -------------------------------------------

struct Ack {
  uint64_t cid;
  std::string stream;
  uint64_t first, last;
};

struct Error {
  char tag;          // N, Q or E
  std::string what;  // cid, "stream seq", or the step
  Status::Code code;
  std::string message;
  bool after_reopen;
};

struct Report {
  std::vector<Ack> acks;           // A lines
  std::set<uint64_t> failed_cids;  // N lines
  // S and Q lines: (stream, seq) of saved and failed snapshots.
  std::set<std::pair<std::string, uint64_t>> snapshots, failed_snapshots;
  std::vector<Error> errors;  // N, Q and E lines, in order
  // P lines by where ("same", "reopened"): the code and message.
  std::map<std::string, std::pair<Status::Code, std::string>> probes;
  std::map<std::string, uint64_t> calls;  // C lines: calls per op
  // F line: the first failed call; none if the k-th call was not reached.
  std::optional<std::string> injected_op, injected_path;
  bool failed_meta_write = false;    // M line: a meta-page pwrite failed
  uint64_t failed_calls = 0;         // K line
  uint64_t failed_before_close = 0;  // Y line
  // J line: the inline projection at the end of the workload.
  struct Inline {
    bool started = false;
    bool attached = false;
    uint64_t detaches = 0, checkpoint = 0, head = 0;
  };
  std::optional<Inline> projection;
  bool end = false;  // END seen
  std::vector<std::string> unparsed;
};

Report ParseReport(const std::vector<std::string>& lines);

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_RELIABILITY_FAULT_RUN_H_

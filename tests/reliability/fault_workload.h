// What the I/O fault sweep's child (fault_child.cc) writes and reports, and
// the parent (fault_sweep_test.cc) checks: payloads derived from a content
// id, so the parent can tell a stored event's bytes from anything else.
//
// The child's report, one line per write() on stdout, read as it comes:
//   A <cid> <stream> <first> <last>  an acknowledged append (one line per
//                                    stream of the request)
//   N <cid> <code> <message>         a failed append request
//   S <stream> <seq>                 an acknowledged snapshot
//   Q <stream> <seq> <code> <msg>    a failed snapshot save
//   E <step> <code> <message>        another call that failed: open,
//                                    reopen, sync, close, close2
//   P <where> <code> <message>       a probe append after the fault was
//                                    lifted: "same" store, or "reopened"
//   Y <failed>                       calls failed before the first Close
//   X reopened                       the fault is lifted for good and the
//                                    store reopened: errors after this
//                                    line are failures of the sweep
//   J <attached> <detaches> <checkpoint> <head>
//                                    the inline projection "fault-counts"
//                                    when the workload ended: attached or
//                                    not (1/0), how often it detached, its
//                                    checkpoint and the log's last position
//                                    (J - when it could not start)
//   C <op> <calls>                   calls on store files while armed
//   F <op> <n> <path>                the first failed call
//   K <failed>                       how many calls were failed
//   END                              the last line
// <code> is the number of a memoir::Status::Code (0 for OK).
#ifndef MEMOIR_TESTS_RELIABILITY_FAULT_WORKLOAD_H_
#define MEMOIR_TESTS_RELIABILITY_FAULT_WORKLOAD_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace memoir::test {

// Event `index` of `total` in request `cid`. Sizes vary (a few bytes to
// 9 KB, which takes overflow pages and so multi-page writes).
inline std::string FaultEventPayload(uint64_t cid, size_t index, size_t total) {
  std::string p = "c" + std::to_string(cid) + ":" + std::to_string(index) +
                  "/" + std::to_string(total) + ":";
  size_t filler = 16 + ((cid * 7 + index * 13) % 5) * 300;
  if (cid % 5 == 0 && index == 0) filler = 9000;
  p.append(filler, static_cast<char>('a' + (cid + index) % 26));
  return p;
}

// Durable messages (memoir/message_store.h): thread k's request `cid`
// appends one event to "t<k>-m" and sends a message carrying the event's
// payload to "t<k>-r", which takes it with an event of request
// cid + kTakeCid.
inline constexpr uint64_t kTakeCid = 50000;
inline constexpr char kMessageType[] = "FaultCommand";

// The inline projection the child runs: events per stream, in table
// "events" (key: the stream, value: the count in decimal).
inline constexpr char kFaultProjection[] = "fault-counts";

inline std::string FaultSnapshotPayload(const std::string& stream,
                                        uint64_t seq) {
  std::string p = "snap:" + stream + ":" + std::to_string(seq) + ":";
  p.append(64 + (seq % 7) * 200, static_cast<char>('A' + seq % 26));
  return p;
}

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_RELIABILITY_FAULT_WORKLOAD_H_

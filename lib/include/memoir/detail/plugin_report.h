// Internal to memoir/plugin.h: what the `memoir` CLI gets back from a
// replay plugin, the report structs and the type-erased Type interface.
// Include memoir/plugin.h, not this; names here may change without notice.
// Type's vtable order is part of the plugin ABI: methods are only ever
// added at the end.
#ifndef MEMOIR_DETAIL_PLUGIN_REPORT_H_
#define MEMOIR_DETAIL_PLUGIN_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memoir/journal.h"
#include "memoir/replay.h"
#include "memoir/result.h"
#include "memoir/snapshot_store.h"
#include "memoir/status.h"
#include "memoir/store.h"

namespace memoir::plugin {

struct InvariantInfo {
  std::string name;
  std::string description;
};

// A stored event and, when the type has event_to_json, its payload as JSON.
struct EventReport {
  RecordedEvent event;
  std::optional<std::string> json;
};

// The state after `seq` (JSON), and how it was rebuilt.
struct StateReport {
  std::string state;
  uint64_t seq = 0;           // the last event applied
  uint64_t snapshot_seq = 0;  // 0: rebuilt from the first event
  uint64_t events_replayed = 0;
  std::vector<SnapshotSkip> skipped;
};

struct StepReport {
  EventReport event;
  std::string state;  // after the event
};

struct BisectReport {
  bool found = false;  // false: the invariant holds at the head
  uint64_t seq = 0;    // the first event after which it fails
  std::optional<EventReport> event;
  std::string before, after;  // states around `seq` (JSON)
  uint64_t probes = 0;
  uint64_t events_replayed = 0;
};

struct SnapshotMismatchReport {
  uint64_t seq = 0;
  std::string detail;
  std::string stored, replayed;  // JSON
};
struct SnapshotReport {
  size_t checked = 0;
  size_t unusable = 0;
  size_t unverifiable = 0;  // the events before them were deleted
  std::optional<SnapshotMismatchReport> first_mismatch;
};

struct DivergenceReport {
  uint64_t seq = 0;
  std::string detail;
  std::optional<EventReport> command;  // the recorded command
};
struct RehandleReport {
  uint64_t commands = 0;
  std::optional<DivergenceReport> first;
};

// One registered type, behind virtual functions that are compiled into
// the plugin. None throws: errors come back as a Status. `store` must stay
// open during a call; progress is called after every event applied.
class Type {
 public:
  using StepVisitor = std::function<bool(const StepReport&)>;

  virtual ~Type() = default;
  virtual const std::string& name() const = 0;
  // A::kTypeName.
  virtual std::string_view actor_type() const = 0;
  virtual const std::string& stream_prefix() const = 0;
  virtual bool has_matcher() const = 0;  // a `matches` function was given
  virtual bool Matches(std::string_view stream) const = 0;
  virtual bool command_sourced() const = 0;
  virtual bool has_event_json() const = 0;
  virtual const std::vector<InvariantInfo>& invariants() const = 0;

  // Replayer::StateAt, with the state as JSON.
  virtual Result<StateReport> StateAt(Store& store, std::string_view stream,
                                      uint64_t seq, bool from_start,
                                      const ReplayProgress& progress) const = 0;
  // Replayer::Steps. `visit` must not throw.
  virtual Status Steps(Store& store, std::string_view stream, uint64_t from_seq,
                       uint64_t to_seq, bool from_start,
                       const StepVisitor& visit,
                       const ReplayProgress& progress) const = 0;
  // Replayer::Bisect with the invariant named `invariant` (kInvalidArgument
  // when there is none).
  virtual Result<BisectReport> Bisect(Store& store, std::string_view stream,
                                      std::string_view invariant,
                                      bool exhaustive,
                                      const ReplayProgress& progress) const = 0;
  virtual Result<SnapshotReport> VerifySnapshots(
      Store& store, std::string_view stream,
      const ReplayProgress& progress) const = 0;
  // Replayer::Rehandle; kInvalidArgument for a type that is not
  // command-sourced.
  virtual Result<RehandleReport> Rehandle(
      Store& store, std::string_view stream,
      const ReplayProgress& progress) const = 0;

  // Added after the replay methods, so that the older ones keep their
  // places in the vtable.
  //
  // One stored event decoded (upcasters, then the event codec) and, when
  // the type has event_to_json, its payload as JSON (not checked to be
  // JSON: the host checks). For `memoir events --plugin` and the other
  // listing commands. Errors: kFailed when the payload does not decode or
  // event_to_json throws, naming the seq.
  virtual Result<EventReport> DescribeEvent(const RecordedEvent& e) const = 0;
  // One stored snapshot's state decoded by the state codec and given to
  // state_to_json (not checked to be JSON). Errors: kFailed when it does
  // not decode or state_to_json throws.
  virtual Result<std::string> DescribeState(const Snapshot& snapshot) const = 0;
};

}  // namespace memoir::plugin

#endif  // MEMOIR_DETAIL_PLUGIN_REPORT_H_

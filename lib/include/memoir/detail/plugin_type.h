// Internal to memoir/plugin.h: the templates, compiled into the plugin,
// that implement plugin::Type (memoir/detail/plugin_report.h) for a
// registered ReplayType<A>. Include memoir/plugin.h, not this; names here
// may change without notice.
#ifndef MEMOIR_DETAIL_PLUGIN_TYPE_H_
#define MEMOIR_DETAIL_PLUGIN_TYPE_H_

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memoir/actor.h"
#include "memoir/detail/behavior_of.h"
#include "memoir/detail/plugin_report.h"
#include "memoir/journal.h"
#include "memoir/replay.h"
#include "memoir/result.h"
#include "memoir/snapshot_store.h"
#include "memoir/status.h"
#include "memoir/store.h"

namespace memoir::plugin {

// Defined in memoir/plugin.h.
template <typename State>
struct Invariant;
template <ActorType A>
struct ReplayType;

namespace internal {

// Runs `body` and turns anything it throws into kFailed.
template <typename R, typename Body>
R Guard(const std::string& type, std::string_view what, const Body& body) {
  try {
    return body();
  } catch (...) {
    return Status::Failed("plugin type '" + type + "': " + std::string(what) +
                          " threw " + detail::DescribeCurrentException());
  }
}

template <ActorType A>
class TypeOf final : public Type {
 public:
  using State = typename A::State;
  using Event = typename A::Event;

  TypeOf(std::string name, ReplayType<A> spec)
      : name_(std::move(name)),
        spec_(std::move(spec)),
        behavior_(spec_.actor, spec_.options) {
    for (const auto& inv : spec_.invariants) {
      infos_.push_back({inv.name, inv.description});
    }
  }

  const std::string& name() const override { return name_; }
  std::string_view actor_type() const override { return A::kTypeName; }
  const std::string& stream_prefix() const override {
    return spec_.stream_prefix;
  }
  bool has_matcher() const override { return static_cast<bool>(spec_.matches); }
  bool Matches(std::string_view stream) const override {
    if (spec_.stream_prefix.empty() && !spec_.matches) return false;
    if (stream.substr(0, spec_.stream_prefix.size()) != spec_.stream_prefix) {
      return false;
    }
    try {
      return !spec_.matches || spec_.matches(stream);
    } catch (...) {
      return false;
    }
  }
  bool command_sourced() const override {
    return std::same_as<Event, typename A::Command>;
  }
  bool has_event_json() const override {
    return static_cast<bool>(spec_.event_to_json);
  }
  const std::vector<InvariantInfo>& invariants() const override {
    return infos_;
  }

  Result<EventReport> DescribeEvent(const RecordedEvent& e) const override {
    return Guard<Result<EventReport>>(name_, "decoding an event",
                                      [&] { return Describe(e); });
  }

  Result<std::string> DescribeState(const Snapshot& snapshot) const override {
    return Guard<Result<std::string>>(
        name_, "decoding a snapshot", [&]() -> Result<std::string> {
          auto state = behavior_.DecodeState(snapshot);
          if (!state.ok()) {
            return state.status().WithContext(
                "plugin type '" + name_ + "': the snapshot at seq " +
                std::to_string(snapshot.info.seq));
          }
          return StateJson(detail::BehaviorOf<A>::Value(**state));
        });
  }

  Result<StateReport> StateAt(Store& store, std::string_view stream,
                              uint64_t seq, bool from_start,
                              const ReplayProgress& progress) const override {
    return Guard<Result<StateReport>>(
        name_, "replay", [&]() -> Result<StateReport> {
          auto at = Replay(store).StateAt(stream, seq, from_start, progress);
          if (!at.ok()) return at.status();
          Result<std::string> json = StateJson(at->state);
          if (!json.ok()) return json.status();
          return StateReport{std::move(*json), at->seq, at->snapshot_seq,
                             at->events_replayed, std::move(at->skipped)};
        });
  }

  Status Steps(Store& store, std::string_view stream, uint64_t from_seq,
               uint64_t to_seq, bool from_start, const StepVisitor& visit,
               const ReplayProgress& progress) const override {
    return Guard<Status>(name_, "replay", [&]() -> Status {
      Status failure;
      Status s = Replay(store).Steps(
          stream, from_seq, to_seq,
          [&](const RecordedEvent& e, const State& after) {
            Result<std::string> state = StateJson(after);
            if (!state.ok()) {
              failure = state.status();
              return false;
            }
            Result<EventReport> event = Describe(e);
            if (!event.ok()) {
              failure = event.status();
              return false;
            }
            return visit(StepReport{std::move(*event), std::move(*state)});
          },
          from_start, progress);
      return failure.ok() ? s : failure;
    });
  }

  Result<BisectReport> Bisect(Store& store, std::string_view stream,
                              std::string_view invariant, bool exhaustive,
                              const ReplayProgress& progress) const override {
    return Guard<Result<BisectReport>>(
        name_, "bisect", [&]() -> Result<BisectReport> {
          const Invariant<State>* inv = nullptr;
          for (const auto& i : spec_.invariants) {
            if (i.name == invariant) inv = &i;
          }
          if (inv == nullptr) {
            std::string known;
            for (const auto& i : spec_.invariants) {
              known += (known.empty() ? "" : ", ") + i.name;
            }
            return Status::InvalidArgument(
                "type '" + name_ + "' has no invariant '" +
                std::string(invariant) + "'" +
                (known.empty() ? std::string(" (it has none)")
                               : "; it has: " + known));
          }
          auto b =
              Replay(store).Bisect(stream, inv->holds, exhaustive, progress);
          if (!b.ok()) return b.status();
          BisectReport out;
          out.found = b->found;
          out.seq = b->seq;
          out.probes = b->probes;
          out.events_replayed = b->events_replayed;
          if (b->event) {
            Result<EventReport> event = Describe(*b->event);
            if (!event.ok()) return event.status();
            out.event = std::move(*event);
          }
          for (auto [from, to] : {std::pair{&b->before, &out.before},
                                  std::pair{&b->after, &out.after}}) {
            if (!*from) continue;
            Result<std::string> json = StateJson(**from);
            if (!json.ok()) return json.status();
            *to = std::move(*json);
          }
          return out;
        });
  }

  Result<SnapshotReport> VerifySnapshots(
      Store& store, std::string_view stream,
      const ReplayProgress& progress) const override {
    return Guard<Result<SnapshotReport>>(
        name_, "verify-snapshots", [&]() -> Result<SnapshotReport> {
          auto v = Replay(store).VerifySnapshots(stream, spec_.state_equal,
                                                 progress);
          if (!v.ok()) return v.status();
          SnapshotReport out;
          out.checked = v->checked;
          out.unusable = v->unusable;
          out.unverifiable = v->unverifiable;
          if (v->first_mismatch) {
            Result<std::string> stored = StateJson(v->first_mismatch->stored);
            if (!stored.ok()) return stored.status();
            Result<std::string> replayed =
                StateJson(v->first_mismatch->replayed);
            if (!replayed.ok()) return replayed.status();
            out.first_mismatch = SnapshotMismatchReport{
                v->first_mismatch->seq, v->first_mismatch->detail,
                std::move(*stored), std::move(*replayed)};
          }
          return out;
        });
  }

  Result<RehandleReport> Rehandle(
      Store& store, std::string_view stream,
      const ReplayProgress& progress) const override {
    if constexpr (std::same_as<Event, typename A::Command>) {
      return Guard<Result<RehandleReport>>(
          name_, "rehandle", [&]() -> Result<RehandleReport> {
            auto r = Replay(store).Rehandle(stream, progress);
            if (!r.ok()) return r.status();
            RehandleReport out;
            out.commands = r->commands;
            if (r->first) {
              DivergenceReport d{r->first->seq, r->first->detail, {}};
              ReadOptions one;
              one.from_seq = one.to_seq = r->first->seq;
              auto recorded = store.journal().Read(stream, one);
              if (recorded.ok() && recorded->size() == 1) {
                Result<EventReport> event = Describe(recorded->front());
                if (event.ok()) d.command = std::move(*event);
              }
              out.first = std::move(d);
            }
            return out;
          });
    } else {
      (void)store;
      (void)stream;
      (void)progress;
      return Status::InvalidArgument(
          "type '" + name_ + "' (actor type '" + std::string(A::kTypeName) +
          "') is event-sourced: its journal holds events, not the commands "
          "that produced them, so there is nothing to re-run. rehandle works "
          "on command-sourced types (Event = Command)");
    }
  }

 private:
  Replayer<A> Replay(Store& store) const {
    return Replayer<A>(store, spec_.actor, spec_.options);
  }

  Result<std::string> StateJson(const State& state) const {
    try {
      return spec_.state_to_json(state);
    } catch (...) {
      return Status::Failed("plugin type '" + name_ +
                            "': state_to_json threw " +
                            detail::DescribeCurrentException());
    }
  }

  // The envelope, and the payload as JSON when the type can say it.
  Result<EventReport> Describe(const RecordedEvent& e) const {
    EventReport out{e, std::nullopt};
    if (!spec_.event_to_json) return out;
    std::vector<std::string_view> tags(e.tags.begin(), e.tags.end());
    EventView view{
        e.stream,         e.seq,     e.position, e.timestamp_ns, e.type,
        e.schema_version, e.payload, tags,       e.id,           e.causation_id,
        e.correlation_id, e.metadata};
    Result<Event> decoded = behavior_.DecodeStored(view);
    if (!decoded.ok()) {
      return decoded.status().WithContext("stream '" + e.stream + "' seq " +
                                          std::to_string(e.seq));
    }
    try {
      out.json = spec_.event_to_json(*decoded);
    } catch (...) {
      return Status::Failed("plugin type '" + name_ +
                            "': event_to_json threw " +
                            detail::DescribeCurrentException() + " on seq " +
                            std::to_string(e.seq));
    }
    return out;
  }

  std::string name_;
  ReplayType<A> spec_;
  detail::BehaviorOf<A> behavior_;
  std::vector<InvariantInfo> infos_;
};

// What MEMOIR_PLUGIN's entry point runs: the plugin's registration
// function, with anything it throws turned into a registration error.
// `Reg` is always Registry, a parameter only because Registry is defined
// after this header (in memoir/plugin.h).
template <typename Reg, typename Register>
int RunRegistration(Reg* registry, const Register& register_types) {
  try {
    register_types(*registry);
  } catch (...) {
    registry->Fail("its registration function threw " +
                   detail::DescribeCurrentException());
  }
  return registry->error().empty() ? 0 : 1;
}

}  // namespace internal

}  // namespace memoir::plugin

#endif  // MEMOIR_DETAIL_PLUGIN_TYPE_H_

// replay, diff and plugin: a stream's state at a seq (or step by step),
// what changed between two seqs, and what a replay plugin registers.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <optional>

#include "replay_common.h"

namespace memoir::cli {
namespace {

struct ReplayCmdArgs : ReplayArgs {
  uint64_t to = kMaxSeq;  // kMaxSeq: the head
  uint64_t from = 1;      // --steps only
  bool steps = false;
};

std::string Rebuilt(const plugin::StateReport& r) {
  if (r.snapshot_seq == 0) {
    return fmt::format("from the first event, {} events applied",
                       r.events_replayed);
  }
  return fmt::format("from the snapshot at seq {}, then {} events applied",
                     r.snapshot_seq, r.events_replayed);
}

std::string SkippedArray(const std::vector<SnapshotSkip>& skipped) {
  std::string out = "[";
  for (const SnapshotSkip& s : skipped) {
    if (out.size() > 1) out += ',';
    out += JsonObject().Num("seq", s.seq).Str("reason", s.reason).str();
  }
  return out + "]";
}

// The state after `seq`, rebuilt with progress shown while it runs.
Result<plugin::StateReport> StateAt(const Options& o, const ReplayArgs& a,
                                    ReplaySession& s, uint64_t seq) {
  ReplayMeter meter("replay");
  return s.type->StateAt(*s.store, o.stream, seq, a.from_start, meter.fn());
}

int PrintState(const Options& o, const ReplayArgs& a, ReplaySession& s,
               uint64_t to) {
  Result<plugin::StateReport> r = StateAt(o, a, s, to);
  if (!r.ok())
    return ReplayFail(r.status(), fmt::format("replaying '{}'", o.stream));
  Result<JsonValue> state = PluginJson(*s.type, "state_to_json", r->state);
  if (!state.ok()) return Fail(state.status(), "printing the state");
  if (o.json) {
    PrintLine(JsonObject()
                  .Str("stream", o.stream)
                  .Str("type", s.type->name())
                  .Num("seq", r->seq)
                  .Num("head", s.head)
                  .Num("snapshot_seq", r->snapshot_seq)
                  .Num("events_replayed", r->events_replayed)
                  .Raw("skipped_snapshots", SkippedArray(r->skipped))
                  .Raw("state", WriteJson(*state))
                  .str());
    return kExitOk;
  }
  std::vector<std::pair<std::string, std::string>> pairs = {
      {"stream", o.stream},
      {"type", TypeText(*s.plugin, *s.type)},
      {"seq", fmt::format("{} (head {})", r->seq, s.head)},
      {"rebuilt", Rebuilt(*r)}};
  for (const SnapshotSkip& skip : r->skipped) {
    pairs.push_back({"skipped", fmt::format("the snapshot at seq {}: {}",
                                            skip.seq, skip.reason)});
  }
  pairs.push_back({"state", WriteJson(*state, 2)});
  PrintPairs(pairs);
  return kExitOk;
}

// --steps: the state before `from`, then each event and what it changed
// (--json: each event with the whole state after it).
int PrintSteps(const Options& o, const ReplayCmdArgs& a, ReplaySession& s,
               uint64_t to) {
  if (int rc = CheckSeq("--from", a.from, o, s.head); rc != kExitOk) return rc;
  if (a.from > to) {
    return UsageError(fmt::format("--from {} is after --to {}", a.from, to));
  }
  Result<plugin::StateReport> start = StateAt(o, a, s, a.from - 1);
  if (!start.ok()) {
    return ReplayFail(start.status(), fmt::format("replaying '{}'", o.stream));
  }
  Result<JsonValue> initial =
      PluginJson(*s.type, "state_to_json", start->state);
  if (!initial.ok()) return Fail(initial.status(), "printing the state");
  if (o.json) {
    PrintLine(JsonObject()
                  .Str("kind", "start")
                  .Str("stream", o.stream)
                  .Str("type", s.type->name())
                  .Num("seq", start->seq)
                  .Raw("state", WriteJson(*initial))
                  .str());
  } else {
    PrintPairs(
        {{"stream", o.stream},
         {"type", TypeText(*s.plugin, *s.type)},
         {"steps", fmt::format("seq {} to {} (head {})", a.from, to, s.head)},
         {start->seq == 0 ? "initial state"
                          : fmt::format("state at seq {}", start->seq),
          WriteJson(*initial, 2)}});
  }
  JsonValue previous = std::move(*initial);
  Status failure;
  bool broken = false;
  auto visit = [&](const plugin::StepReport& step) -> bool {
    Heartbeat();
    Result<JsonValue> after = PluginJson(*s.type, "state_to_json", step.state);
    if (!after.ok()) {
      failure = after.status();
      return false;
    }
    Result<std::string> event = o.json ? EventObject(*s.type, step.event)
                                       : EventText(*s.type, step.event);
    if (!event.ok()) {
      failure = event.status();
      return false;
    }
    try {
      if (o.json) {
        PrintLine(JsonObject()
                      .Str("kind", "step")
                      .Raw("event", *event)
                      .Raw("state", WriteJson(*after))
                      .str());
      } else {
        PrintLine(*event);
        std::vector<std::string> lines =
            ChangeLines(DiffJson(previous, *after), "  ");
        if (lines.empty()) PrintLine("  (the state did not change)");
        for (const std::string& line : lines) PrintLine(line);
      }
    } catch (const BrokenPipe&) {
      broken = true;
      return false;
    }
    previous = std::move(*after);
    return true;
  };
  Status st = s.type->Steps(*s.store, o.stream, a.from, to, a.from_start, visit,
                            [](uint64_t) { Heartbeat(); });
  if (broken) throw BrokenPipe{};
  if (!failure.ok()) return Fail(failure, "printing a step");
  if (!st.ok()) return ReplayFail(st, fmt::format("replaying '{}'", o.stream));
  return kExitOk;
}

int RunReplay(const Options& o, const ReplayCmdArgs& a) {
  ReplaySession s;
  if (int rc = OpenSession(o, a, &s); rc != kExitOk) return rc;
  const uint64_t to = a.to == kMaxSeq ? s.head : a.to;
  if (int rc = CheckSeq("--to", to, o, s.head); rc != kExitOk) return rc;
  return a.steps ? PrintSteps(o, a, s, to) : PrintState(o, a, s, to);
}

int RunDiff(const Options& o, const ReplayArgs& a,
            const std::vector<uint64_t>& at) {
  if (at.size() != 2) {
    return UsageError(fmt::format(
        "diff compares two seqs: give --at A --at B ({} given)", at.size()));
  }
  ReplaySession s;
  if (int rc = OpenSession(o, a, &s); rc != kExitOk) return rc;
  for (uint64_t seq : at) {
    if (int rc = CheckSeq("--at", seq, o, s.head); rc != kExitOk) return rc;
  }
  JsonValue states[2];
  for (int i = 0; i < 2; ++i) {
    Result<plugin::StateReport> r = StateAt(o, a, s, at[i]);
    if (!r.ok()) {
      return ReplayFail(r.status(), fmt::format("replaying '{}'", o.stream));
    }
    Result<JsonValue> v = PluginJson(*s.type, "state_to_json", r->state);
    if (!v.ok()) return Fail(v.status(), "comparing the states");
    states[i] = std::move(*v);
  }
  std::vector<JsonChange> changes = DiffJson(states[0], states[1]);
  if (o.json) {
    PrintLine(JsonObject()
                  .Str("stream", o.stream)
                  .Str("type", s.type->name())
                  .Num("from_seq", at[0])
                  .Num("to_seq", at[1])
                  .Raw("changes", ChangesArray(changes))
                  .str());
    return kExitOk;
  }
  PrintLine(fmt::format("{} ({}), seq {} -> seq {}: {}", o.stream,
                        TypeText(*s.plugin, *s.type), at[0], at[1],
                        changes.empty() ? std::string("no change")
                        : changes.size() == 1
                            ? std::string("1 path changed")
                            : fmt::format("{} paths changed", changes.size())));
  for (const std::string& line : ChangeLines(changes, "  ")) PrintLine(line);
  return kExitOk;
}

std::string InvariantsArray(const plugin::Type& t) {
  std::string out = "[";
  for (const plugin::InvariantInfo& i : t.invariants()) {
    if (out.size() > 1) out += ',';
    out += JsonObject()
               .Str("name", i.name)
               .Str("description", i.description)
               .str();
  }
  return out + "]";
}

int RunPlugin(const Options& o) {
  std::unique_ptr<LoadedPlugin> p = LoadPlugin(o);
  if (!p) return kExitUsage;
  const auto& types = p->registry().types();
  if (o.json) {
    PrintLine(JsonObject()
                  .Str("kind", "plugin")
                  .Str("name", p->name())
                  .Str("path", p->path())
                  .Str("abi", p->abi())
                  .Num("types", types.size())
                  .str());
    for (const auto& t : types) {
      PrintLine(JsonObject()
                    .Str("kind", "type")
                    .Str("name", t->name())
                    .Str("actor_type", t->actor_type())
                    .Str("stream_prefix", t->stream_prefix())
                    .Bool("custom_matcher", t->has_matcher())
                    .Str("streams", MatcherText(*t))
                    .Bool("command_sourced", t->command_sourced())
                    .Bool("event_to_json", t->has_event_json())
                    .Raw("invariants", InvariantsArray(*t))
                    .str());
    }
    return kExitOk;
  }
  PrintPairs({{"plugin", p->name()},
              {"file", p->path()},
              {"abi", p->abi()},
              {"types", std::to_string(types.size())}});
  for (const auto& t : types) {
    PrintLine("");
    PrintLine(
        fmt::format("type {}: actor type '{}', {}, {}, events shown {}",
                    t->name(), t->actor_type(), MatcherText(*t),
                    t->command_sourced() ? "command-sourced (rehandle works)"
                                         : "event-sourced",
                    t->has_event_json() ? "as JSON" : "as envelopes only"));
    if (t->invariants().empty()) PrintLine("  no invariants");
    for (const plugin::InvariantInfo& i : t->invariants()) {
      PrintLine(fmt::format("  invariant {}: {}", i.name, i.description));
    }
  }
  return kExitOk;
}

}  // namespace

void AddReplayCommands(CLI::App& app, Options& o,
                       std::vector<Command>& commands) {
  auto ra = std::make_shared<ReplayCmdArgs>();
  CLI::App* replay = app.add_subcommand(
      "replay",
      "A stream's state at a seq, rebuilt by the application's code from a "
      "replay plugin; with --steps, each event and what it changed");
  AddStoreArg(replay, o);
  AddStreamArg(replay, o);
  AddPluginOption(replay, o);
  AddTypeOption(replay, *ra);
  replay
      ->add_option("--to", ra->to,
                   "The state after this seq (default: "
                   "the head; 0: the initial state)")
      ->type_name("SEQ");
  replay->add_flag("--steps", ra->steps,
                   "Each event from --from to --to and the state after it "
                   "(as what changed; --json: the whole state)");
  replay->add_option("--from", ra->from, "With --steps: the first seq")
      ->type_name("SEQ")
      ->check(AtLeastOne());
  replay->add_flag("--from-start", ra->from_start,
                   "Fold every event from seq 1 instead of starting at the "
                   "newest snapshot");
  AddJsonFlag(replay, o);
  AddNoLockFlag(replay, o);
  commands.push_back({replay, Kind::kRead, [&o, ra] {
                        if (ra->from != 1 && !ra->steps) {
                          return UsageError("--from needs --steps");
                        }
                        return RunReplay(o, *ra);
                      }});

  auto da = std::make_shared<ReplayArgs>();
  auto at = std::make_shared<std::vector<uint64_t>>();
  CLI::App* diff = app.add_subcommand(
      "diff",
      "What changed in a stream's state between two seqs: each JSON path "
      "with its value before and after");
  AddStoreArg(diff, o);
  AddStreamArg(diff, o);
  AddPluginOption(diff, o);
  AddTypeOption(diff, *da);
  diff->add_option("--at", *at, "A seq to compare (give two: --at A --at B)")
      ->type_name("SEQ")
      ->required();
  diff->add_flag("--from-start", da->from_start,
                 "Fold every event from seq 1 instead of starting at the "
                 "newest snapshot");
  AddJsonFlag(diff, o);
  AddNoLockFlag(diff, o);
  commands.push_back(
      {diff, Kind::kRead, [&o, da, at] { return RunDiff(o, *da, *at); }});

  CLI::App* plugin = app.add_subcommand(
      "plugin",
      "What a replay plugin registers: its types, the streams they take, "
      "and their invariants (and whether this memoir can load it)");
  plugin
      ->add_option("LIB", o.plugin,
                   "The plugin: a shared library defining actor types with "
                   "MEMOIR_PLUGIN")
      ->required();
  AddJsonFlag(plugin, o);
  commands.push_back({plugin, Kind::kRead, [&o] { return RunPlugin(o); }});
}

}  // namespace memoir::cli

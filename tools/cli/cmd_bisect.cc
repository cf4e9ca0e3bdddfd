// bisect, verify-snapshots and rehandle: the first event after which an
// invariant fails, snapshots checked against their events, and recorded
// commands re-run through today's handler.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <set>

#include "format.h"
#include "replay_common.h"

namespace memoir::cli {
namespace {

struct BisectArgs : ReplayArgs {
  std::string invariant;
  bool exhaustive = false;
};

const plugin::InvariantInfo* FindInvariant(const plugin::Type& t,
                                           std::string_view name) {
  for (const plugin::InvariantInfo& i : t.invariants()) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

int UnknownInvariant(const LoadedPlugin& p, const plugin::Type& t,
                     const std::string& name) {
  std::string known;
  for (const plugin::InvariantInfo& i : t.invariants()) {
    known += (known.empty() ? "" : ", ") + i.name;
  }
  return UsageError(fmt::format(
      "{} has no invariant '{}'; {}", TypeText(p, t), name,
      known.empty()
          ? std::string("it has none")
          : "it has: " + known + " ('memoir plugin LIB' lists them)"));
}

int PrintBreak(const Options& o, const ReplaySession& s,
               const plugin::InvariantInfo& inv,
               const plugin::BisectReport& b) {
  Result<JsonValue> before = PluginJson(*s.type, "state_to_json", b.before);
  Result<JsonValue> after = PluginJson(*s.type, "state_to_json", b.after);
  if (!before.ok()) return Fail(before.status(), "printing the states");
  if (!after.ok()) return Fail(after.status(), "printing the states");
  std::vector<JsonChange> changes = DiffJson(*before, *after);
  const plugin::EventReport& event = *b.event;
  if (o.json) {
    Result<std::string> e = EventObject(*s.type, event);
    if (!e.ok()) return Fail(e.status(), "printing the event");
    PrintLine(JsonObject()
                  .Str("stream", o.stream)
                  .Str("type", s.type->name())
                  .Str("invariant", inv.name)
                  .Bool("found", true)
                  .Num("seq", b.seq)
                  .Num("head", s.head)
                  .Raw("event", *e)
                  .Raw("before", WriteJson(*before))
                  .Raw("after", WriteJson(*after))
                  .Raw("changes", ChangesArray(changes))
                  .Num("probes", b.probes)
                  .Num("events_replayed", b.events_replayed)
                  .str());
    return kExitProblems;
  }
  Result<std::string> e = EventText(*s.type, event);
  if (!e.ok()) return Fail(e.status(), "printing the event");
  std::string changed;
  for (const std::string& line : ChangeLines(changes, "")) {
    changed += (changed.empty() ? "" : "\n") + line;
  }
  PrintLine(fmt::format(
      "invariant '{}' ({}) first fails after seq {} of {} (head {})", inv.name,
      inv.description, b.seq, o.stream, s.head));
  // What changed first, the whole states (one line each) last.
  PrintPairs(
      {{"event", *e},
       {"changed", changed.empty() ? "nothing" : changed},
       {"cost", b.probes == 1
                    ? fmt::format("one fold from the first event, {} events "
                                  "applied (snapshots could not make a search "
                                  "cheaper than folding the {})",
                                  b.events_replayed, s.head)
                    : fmt::format("{} probes, {} events applied (a full "
                                  "fold applies {})",
                                  b.probes, b.events_replayed, s.head)},
       {"before", WriteJson(*before)},
       {"after", WriteJson(*after)}});
  return kExitProblems;
}

int RunBisect(const Options& o, const BisectArgs& a) {
  ReplaySession s;
  if (int rc = OpenSession(o, a, &s); rc != kExitOk) return rc;
  const plugin::InvariantInfo* inv = FindInvariant(*s.type, a.invariant);
  if (inv == nullptr) return UnknownInvariant(*s.plugin, *s.type, a.invariant);
  Result<plugin::BisectReport> b = [&] {
    ReplayMeter meter("bisect");
    return s.type->Bisect(*s.store, o.stream, a.invariant, a.exhaustive,
                          meter.fn());
  }();
  if (!b.ok() && b.status().IsInvalidArgument()) {
    // The name was checked above: the invariant fails before any event.
    PrintError(kExitProblems,
               fmt::format("invariant '{}' ({}) fails on the initial state "
                           "of '{}', before its first event",
                           inv->name, inv->description, o.stream),
               "Check the invariant.");
    return kExitProblems;
  }
  if (!b.ok())
    return ReplayFail(b.status(), fmt::format("bisecting '{}'", o.stream));
  if (b->found) return PrintBreak(o, s, *inv, *b);
  if (o.json) {
    PrintLine(JsonObject()
                  .Str("stream", o.stream)
                  .Str("type", s.type->name())
                  .Str("invariant", inv->name)
                  .Bool("found", false)
                  .Num("head", s.head)
                  .Bool("exhaustive", a.exhaustive)
                  .Num("probes", b->probes)
                  .Num("events_replayed", b->events_replayed)
                  .str());
    return kExitOk;
  }
  if (a.exhaustive) {
    PrintLine(fmt::format(
        "invariant '{}' ({}) holds after every event of {} (head {}; {} "
        "events applied)",
        inv->name, inv->description, o.stream, s.head, b->events_replayed));
    return kExitOk;
  }
  PrintLine(fmt::format(
      "invariant '{}' ({}) holds at the head of {} (seq {}; {} events "
      "applied). Bisection assumes that once broken it stays broken: "
      "--exhaustive checks after every event",
      inv->name, inv->description, o.stream, s.head, b->events_replayed));
  return kExitOk;
}

// --- verify-snapshots ------------------------------------------------------

struct VerifyArgs : ReplayArgs {
  std::string stream;  // --stream: only this one
};

struct StreamToCheck {
  std::string name;
  const plugin::Type* type;
};

// Every live stream some type takes (the first registered type that
// matches it), or only those of --type.
Result<std::vector<StreamToCheck>> StreamsOf(const LoadedPlugin& p, Store& st,
                                             const std::string& only_type) {
  std::vector<StreamToCheck> out;
  std::set<std::string> seen;
  for (const auto& t : p.registry().types()) {
    if (!only_type.empty() && t->name() != only_type) continue;
    if (t->stream_prefix().empty() && !t->has_matcher()) continue;
    std::string after;
    for (;;) {
      Heartbeat();
      Result<StreamPage> page =
          st.journal().ListStreams(t->stream_prefix(), after, 1000);
      if (!page.ok()) return page.status();
      for (const StreamInfo& info : page->streams) {
        if (info.deleted || !t->Matches(info.name)) continue;
        if (seen.insert(info.name).second) out.push_back({info.name, t.get()});
      }
      if (page->next.empty()) break;
      after = page->next;
    }
  }
  return out;
}

std::string MismatchText(const plugin::SnapshotMismatchReport& m,
                         const std::vector<JsonChange>& changes) {
  std::string out = fmt::format("first mismatch at the snapshot of seq {}: {}",
                                m.seq, m.detail);
  for (const JsonChange& c : changes) {
    auto side = [](const std::optional<JsonValue>& v) {
      return v ? WriteJson(*v) : std::string("(absent)");
    };
    out += fmt::format("\n  {}  snapshot {}, replay {}", PathText(c.path),
                       side(c.before), side(c.after));
  }
  return out;
}

int RunVerifySnapshots(const Options& o, const VerifyArgs& a) {
  std::unique_ptr<LoadedPlugin> p = LoadPlugin(o);
  if (!p) return kExitUsage;
  if (!a.type.empty()) {
    Result<const plugin::Type*> t = p->Named(a.type);
    if (!t.ok()) return Fail(t.status(), "choosing the type");
    if (a.stream.empty() && (*t)->stream_prefix().empty() &&
        !(*t)->has_matcher()) {
      return UsageError(fmt::format(
          "type '{}' takes no stream by itself: name one with --stream",
          a.type));
    }
  }
  std::vector<StreamToCheck> streams;
  if (!a.stream.empty()) {
    Result<const plugin::Type*> t = p->TypeFor(a.stream, a.type);
    if (!t.ok()) return Fail(t.status(), "choosing the type");
    streams.push_back({a.stream, *t});
  }
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  if (a.stream.empty()) {
    Result<std::vector<StreamToCheck>> all = StreamsOf(*p, *store, a.type);
    if (!all.ok()) return Fail(all.status(), "listing the streams");
    streams = std::move(*all);
  }
  size_t checked = 0, unusable = 0, unverifiable = 0, mismatches = 0,
         with_snapshots = 0;
  ReplayMeter meter("verify-snapshots");
  for (const StreamToCheck& c : streams) {
    Result<plugin::SnapshotReport> r =
        c.type->VerifySnapshots(*store, c.name, meter.fn());
    Heartbeat();
    if (!r.ok()) {
      return Fail(r.status(),
                  fmt::format("verifying the snapshots of '{}'", c.name));
    }
    checked += r->checked;
    unusable += r->unusable;
    unverifiable += r->unverifiable;
    const bool any = r->checked + r->unusable + r->unverifiable > 0;
    with_snapshots += any;
    std::vector<JsonChange> changes;
    if (r->first_mismatch) {
      ++mismatches;
      Result<JsonValue> stored =
          PluginJson(*c.type, "state_to_json", r->first_mismatch->stored);
      Result<JsonValue> replayed =
          PluginJson(*c.type, "state_to_json", r->first_mismatch->replayed);
      if (!stored.ok()) return Fail(stored.status(), "printing the states");
      if (!replayed.ok()) return Fail(replayed.status(), "printing the states");
      changes = DiffJson(*stored, *replayed);
    }
    if (o.json) {
      if (!any && a.stream.empty()) continue;
      JsonObject line;
      line.Str("kind", "stream")
          .Str("stream", c.name)
          .Str("type", c.type->name())
          .Num("checked", r->checked)
          .Num("unusable", r->unusable)
          .Num("unverifiable", r->unverifiable);
      if (r->first_mismatch) {
        line.Raw("first_mismatch", JsonObject()
                                       .Num("seq", r->first_mismatch->seq)
                                       .Str("detail", r->first_mismatch->detail)
                                       .Raw("changes", ChangesArray(changes))
                                       .str());
      } else {
        line.Raw("first_mismatch", "null");
      }
      PrintLine(line.str());
      continue;
    }
    if (a.stream.empty() && !r->first_mismatch && r->unusable == 0 &&
        r->unverifiable == 0) {
      continue;
    }
    std::string line =
        fmt::format("{} ({}): {} snapshots checked, {} unusable", c.name,
                    c.type->name(), r->checked, r->unusable);
    if (r->unusable > 0 && !r->first_mismatch) {
      line += " (failing their checksum or decode: 'memoir verify' says more)";
    }
    if (r->unverifiable > 0) {
      line += fmt::format(
          ", {} not checkable (the events before them were deleted)",
          r->unverifiable);
    }
    if (r->first_mismatch) {
      line += "; " + MismatchText(*r->first_mismatch, changes);
    }
    PrintLine(line);
  }
  if (o.json) {
    PrintLine(JsonObject()
                  .Str("kind", "summary")
                  .Bool("ok", mismatches == 0)
                  .Num("streams", streams.size())
                  .Num("streams_with_snapshots", with_snapshots)
                  .Num("checked", checked)
                  .Num("unusable", unusable)
                  .Num("unverifiable", unverifiable)
                  .Num("mismatches", mismatches)
                  .str());
  } else {
    PrintLine(
        fmt::format("checked {} of {} ({} with snapshots): {}, {} unusable",
                    Plural(checked, "snapshot", "snapshots"),
                    Plural(streams.size(), "stream", "streams"), with_snapshots,
                    Plural(mismatches, "mismatch", "mismatches"), unusable));
    PrintLine(
        mismatches == 0
            ? "OK: every snapshot checked equals the replay of its "
              "events"
            : fmt::format("FAILED: {} a snapshot that differs from "
                          "the replay of its events",
                          Plural(mismatches, "stream has", "streams have")));
  }
  return mismatches == 0 ? kExitOk : kExitProblems;
}

// --- rehandle --------------------------------------------------------------

int RunRehandle(const Options& o, const ReplayArgs& a) {
  ReplaySession s;
  if (int rc = OpenSession(o, a, &s); rc != kExitOk) return rc;
  Result<plugin::RehandleReport> r = [&] {
    ReplayMeter meter("rehandle");
    return s.type->Rehandle(*s.store, o.stream, meter.fn());
  }();
  if (!r.ok())
    return ReplayFail(r.status(), fmt::format("re-handling '{}'", o.stream));
  std::string command = "null", command_text;
  if (r->first && r->first->command) {
    Result<std::string> obj = EventObject(*s.type, *r->first->command);
    Result<std::string> text = EventText(*s.type, *r->first->command);
    if (!obj.ok()) return Fail(obj.status(), "printing the command");
    if (!text.ok()) return Fail(text.status(), "printing the command");
    command = *obj;
    command_text = *text;
  }
  if (o.json) {
    JsonObject line;
    line.Str("stream", o.stream)
        .Str("type", s.type->name())
        .Num("commands", r->commands)
        .Bool("diverged", r->first.has_value());
    if (r->first) {
      line.Raw("first_divergence", JsonObject()
                                       .Num("seq", r->first->seq)
                                       .Str("detail", r->first->detail)
                                       .Raw("command", command)
                                       .str());
    }
    PrintLine(line.str());
    return r->first ? kExitProblems : kExitOk;
  }
  if (!r->first) {
    PrintLine(fmt::format(
        "{} ({}): today's handler persists each of the {} recorded commands "
        "exactly as recorded: no divergence",
        o.stream, TypeText(*s.plugin, *s.type), r->commands));
    return kExitOk;
  }
  PrintLine(fmt::format(
      "{} ({}): first divergence at seq {} (after {} "
      "commands re-run)",
      o.stream, TypeText(*s.plugin, *s.type), r->first->seq, r->commands));
  PrintPairs(
      {{"recorded", command_text.empty() ? "(unreadable)" : command_text},
       {"today", r->first->detail}});
  return kExitProblems;
}

}  // namespace

void AddBisectCommands(CLI::App& app, Options& o,
                       std::vector<Command>& commands) {
  auto ba = std::make_shared<BisectArgs>();
  CLI::App* bisect = app.add_subcommand(
      "bisect",
      "The first seq after which a named invariant of the plugin's type "
      "fails, the event there and the state before and after (exit code 1 "
      "when it fails, 0 when it holds)");
  AddStoreArg(bisect, o);
  AddStreamArg(bisect, o);
  AddPluginOption(bisect, o);
  AddTypeOption(bisect, *ba);
  bisect
      ->add_option("--invariant", ba->invariant,
                   "The invariant's name ('memoir plugin LIB' lists them)")
      ->type_name("NAME")
      ->required();
  bisect->add_flag("--exhaustive", ba->exhaustive,
                   "Check after every event (one full fold) instead of "
                   "bisecting: for invariants that can break and recover");
  AddJsonFlag(bisect, o);
  AddNoLockFlag(bisect, o);
  commands.push_back(
      {bisect, Kind::kRead, [&o, ba] { return RunBisect(o, *ba); }});

  auto va = std::make_shared<VerifyArgs>();
  CLI::App* verify = app.add_subcommand(
      "verify-snapshots",
      "Rebuild each snapshot's state from the previous snapshot and its "
      "events and compare; per stream of the plugin's types, the snapshots "
      "checked and the first mismatch (exit code 1 on a mismatch)");
  AddStoreArg(verify, o);
  verify->add_option("--stream", va->stream, "Only this stream")
      ->type_name("S");
  AddPluginOption(verify, o);
  AddTypeOption(verify, *va);
  AddJsonFlag(verify, o);
  AddNoLockFlag(verify, o);
  commands.push_back(
      {verify, Kind::kRead, [&o, va] { return RunVerifySnapshots(o, *va); }});

  auto ha = std::make_shared<ReplayArgs>();
  CLI::App* rehandle = app.add_subcommand(
      "rehandle",
      "Re-run a command-sourced stream's recorded commands through the "
      "plugin's (today's) handler and report the first one it would not "
      "persist as recorded (exit code 1 when one differs)");
  AddStoreArg(rehandle, o);
  AddStreamArg(rehandle, o);
  AddPluginOption(rehandle, o);
  AddTypeOption(rehandle, *ha);
  AddJsonFlag(rehandle, o);
  AddNoLockFlag(rehandle, o);
  commands.push_back(
      {rehandle, Kind::kRead, [&o, ha] { return RunRehandle(o, *ha); }});
}

}  // namespace memoir::cli

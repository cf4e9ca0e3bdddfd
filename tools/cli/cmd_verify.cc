// verify: every checksum, envelope, sequence and index of a store.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "cli.h"
#include "contain.h"
#include "format.h"
#include "json.h"
#include "memoir/inspect.h"
#include "output.h"

namespace memoir::cli {
namespace {

std::string Where(const VerifyProblem& p) {
  std::string where;
  if (!p.stream.empty()) where = fmt::format("stream '{}'", p.stream);
  if (p.seq != 0)
    where += fmt::format("{}seq {}", where.empty() ? "" : " ", p.seq);
  if (p.position != 0) {
    where += where.empty() ? fmt::format("position {}", p.position)
                           : fmt::format(" (position {})", p.position);
  }
  return where.empty() ? "store" : where;
}

int RunVerify(const Options& o, const std::string& stream) {
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  Progress progress("verify");
  if (stream.empty()) {
    // Records the check visits: two per stream (name and row), each event
    // and its index entry, each snapshot; tag entries are not counted, so
    // this is an estimate (a store with tags runs past it).
    Result<StoreInfo> info = InspectStore(*store);
    if (info.ok()) {
      progress.SetTotal(2 * info->streams + 2 * info->events + info->snapshots,
                        /*about=*/true);
    }
  }
  VerifyOptions options;
  options.stream = stream;
  options.max_problems = 10000;
  options.progress = [&progress](uint64_t n) {
    Heartbeat();
    progress.Update(n, "records checked");
  };
  Heartbeat();
  Result<VerifyReport> r = VerifyStore(*store, options);
  // VerifyStore's errors already say "verifying STORE: ...".
  if (!r.ok()) return Fail(r.status(), "");
  const VerifyReport& report = *r;
  const std::string what =
      stream.empty() ? o.store : fmt::format("stream '{}'", stream);
  for (const VerifyProblem& p : report.problems) {
    if (o.json) {
      PrintLine(JsonObject()
                    .Str("kind", "problem")
                    .Str("stream", p.stream)
                    .Num("seq", p.seq)
                    .Num("position", p.position)
                    .Str("what", p.what)
                    .str());
    } else {
      PrintLine(fmt::format("problem: {}: {}", Where(p), p.what));
    }
  }
  if (o.json) {
    PrintLine(JsonObject()
                  .Str("kind", "summary")
                  .Bool("ok", report.ok())
                  .Num("problems", report.problem_count)
                  .Num("streams", report.streams)
                  .Num("events", report.events)
                  .Num("index_entries", report.index_entries)
                  .Num("tag_entries", report.tag_entries)
                  .Num("type_entries", report.type_entries)
                  .Num("dangling_tag_entries", report.dangling_tag_entries)
                  .Num("snapshots", report.snapshots)
                  .Num("checkpoints", report.checkpoints)
                  .Num("parked_events", report.parked_events)
                  .Num("projection_versions", report.projection_versions)
                  .Num("projection_rows", report.projection_rows)
                  .Num("outbox_messages", report.outbox_messages)
                  .Num("inbox_records", report.inbox_records)
                  .Num("timers", report.timers)
                  .str());
  } else {
    if (report.problem_count > report.problems.size()) {
      PrintLine(fmt::format("... and {} more",
                            report.problem_count - report.problems.size()));
    }
    PrintLine(fmt::format(
        "checked {}: {}, {}, {}, {}, {}", what,
        Plural(report.streams, "stream", "streams"),
        Plural(report.events, "event", "events"),
        Plural(report.index_entries, "index entry", "index entries"),
        Plural(report.tag_entries, "tag entry", "tag entries"),
        Plural(report.snapshots, "snapshot", "snapshots")));
    if (report.checkpoints + report.parked_events + report.projection_versions >
        0) {
      PrintLine(fmt::format(
          "checked the read side: {}, {}, {}, {}",
          Plural(report.checkpoints, "checkpoint", "checkpoints"),
          Plural(report.parked_events, "parked event", "parked events"),
          Plural(report.projection_versions, "projection version",
                 "projection versions"),
          Plural(report.projection_rows, "projection row", "projection rows")));
    }
    if (report.outbox_messages + report.inbox_records + report.timers > 0) {
      PrintLine(fmt::format(
          "checked the durable messages: {} waiting, {}, {} pending",
          Plural(report.outbox_messages, "message", "messages"),
          Plural(report.inbox_records, "inbox record", "inbox records"),
          Plural(report.timers, "timer", "timers")));
    }
    if (report.dangling_tag_entries > 0) {
      PrintLine(fmt::format(
          "note: {} left by deleting damaged events (readers skip them)",
          Plural(report.dangling_tag_entries, "tag entry points at nothing",
                 "tag entries point at nothing")));
    }
    PrintLine(report.ok()
                  ? "OK: no problems found"
                  : fmt::format("FAILED: {}", Plural(report.problem_count,
                                                     "problem", "problems")));
  }
  return report.ok() ? kExitOk : kExitProblems;
}

std::string Where(const DamagedRecord& r) {
  return Where(VerifyProblem{r.stream, r.seq, r.position, r.what});
}

int RunRepair(const Options& o, bool dry_run) {
  Heartbeat();
  RepairOptions options;
  options.dry_run = dry_run;
  Result<RepairReport> r = RepairStore(o.store, options);
  // Whatever stops the repair (a missing store, a writer holding it, damage
  // it cannot read past) means the store cannot be repaired as it is.
  if (!r.ok()) {
    return FailOpening(r.status(), fmt::format("repairing {}", o.store));
  }
  const RepairReport& report = *r;
  auto print = [&](const DamagedRecord& d, std::string_view kind) {
    if (o.json) {
      PrintLine(JsonObject()
                    .Str("kind", kind)
                    .Str("stream", d.stream)
                    .Num("seq", d.seq)
                    .Num("position", d.position)
                    .Str("what", d.what)
                    .str());
    } else {
      PrintLine(fmt::format("{}: {}: {}", kind, Where(d), d.what));
    }
  };
  for (const DamagedRecord& d : report.repaired) {
    print(d, dry_run ? "repairable" : "repaired");
  }
  for (const DamagedRecord& d : report.unrepaired) print(d, "left");
  const bool whole =
      report.unrepaired.empty() && (!dry_run || report.repaired.empty());
  if (o.json) {
    PrintLine(
        JsonObject()
            .Str("kind", "summary")
            .Num("records", report.records)
            .Num(dry_run ? "repairable" : "repaired", report.repaired.size())
            .Num("left", report.unrepaired.size())
            .Bool("dry_run", dry_run)
            .str());
  } else {
    PrintLine(
        fmt::format("checked {}: {} {}, {} left damaged",
                    Plural(report.records, "event record", "event records"),
                    report.repaired.size(), dry_run ? "repairable" : "repaired",
                    report.unrepaired.size()));
    if (!report.unrepaired.empty()) {
      PrintLine(
          "records left damaged are not one flipped bit; restore the store "
          "from a copy or a backup");
    } else if (!report.repaired.empty() && !dry_run) {
      PrintLine(fmt::format("run 'memoir verify {}' to check the whole store",
                            o.store));
    }
  }
  return whole ? kExitOk : kExitProblems;
}

}  // namespace

void AddVerifyCommand(CLI::App& app, Options& o,
                      std::vector<Command>& commands) {
  auto stream = std::make_shared<std::string>();
  CLI::App* verify = app.add_subcommand(
      "verify",
      "Check every checksum and envelope, gap-free seqs, the global order "
      "and the stream and tag indexes; list each problem with its stream and "
      "seq (exit code 1 when there are problems)");
  AddStoreArg(verify, o);
  verify->add_option("--stream", *stream, "Only this stream")->type_name("S");
  AddJsonFlag(verify, o);
  AddNoLockFlag(verify, o);
  commands.push_back(
      {verify, Kind::kRead, [&o, stream] { return RunVerify(o, *stream); }});

  auto dry_run = std::make_shared<bool>(false);
  CLI::App* repair = app.add_subcommand(
      "repair",
      "Restore event records damaged by one flipped bit (found by trying "
      "each bit until the checksum matches) exactly as they were written; "
      "list any other damage and leave it (exit code 1 when some is left). "
      "Needs the store closed by writers");
  AddStoreArg(repair, o);
  repair->add_flag("--dry-run", *dry_run, "Report only; write nothing");
  AddJsonFlag(repair, o);
  commands.push_back(
      {repair, Kind::kWrite, [&o, dry_run] { return RunRepair(o, *dry_run); }});
}

}  // namespace memoir::cli

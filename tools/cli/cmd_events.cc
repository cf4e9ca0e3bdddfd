// events, all and tail: events of one stream, in commit order, and the
// newest ones (following new commits with --follow).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <deque>
#include <limits>
#include <thread>

#include "cli.h"
#include "contain.h"
#include "event_rows.h"
#include "output.h"

namespace memoir::cli {
namespace {

// A visitor that prints through `printer`. A reader that went away stops
// the scan (the library is not unwound by an exception); Finish rethrows.
class PrintingVisitor {
 public:
  explicit PrintingVisitor(EventPrinter* printer) : printer_(printer) {}
  EventVisitor visitor() {
    return [this](const EventView& e) {
      Heartbeat();
      try {
        printer_->Print(e);
        last_position_ = e.position;
        return true;
      } catch (const BrokenPipe&) {
        broken_ = true;
        return false;
      }
    };
  }
  void Finish() {
    if (broken_) throw BrokenPipe{};
    printer_->Flush();
  }
  uint64_t last_position() const { return last_position_; }

 private:
  EventPrinter* printer_;
  bool broken_ = false;
  uint64_t last_position_ = 0;
};

struct EventsArgs {
  uint64_t from = 1;
  uint64_t to = kMaxSeq;
  size_t limit = kAll;
  bool reverse = false;
};

int RunEvents(const Options& o, const EventsArgs& args) {
  std::unique_ptr<Schema> schema;
  if (!LoadSchema(o, &schema)) return kExitUsage;
  std::unique_ptr<PluginDecoder> decoder;
  if (!LoadDecoder(o, &decoder)) return kExitUsage;
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  EventPrinter printer(o, schema.get(), decoder.get(),
                       /*in_commit_order=*/false);
  PrintingVisitor print(&printer);
  ReadOptions range{args.from, args.to, args.limit, args.reverse};
  Status s = store->journal().Scan(o.stream, range, print.visitor());
  print.Finish();
  if (!s.ok()) return Fail(s, fmt::format("reading stream '{}'", o.stream));
  if (printer.count() == 0 && !o.json) {
    fmt::print(stderr, "memoir: stream '{}' has no events in that range\n",
               o.stream);
  }
  return kExitOk;
}

struct AllArgs {
  uint64_t from_position = 1;
  std::string tag;
  std::string type;
  size_t limit = kAll;
};

int RunAll(const Options& o, const AllArgs& args) {
  std::unique_ptr<Schema> schema;
  if (!LoadSchema(o, &schema)) return kExitUsage;
  std::unique_ptr<PluginDecoder> decoder;
  if (!LoadDecoder(o, &decoder)) return kExitUsage;
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  EventPrinter printer(o, schema.get(), decoder.get(),
                       /*in_commit_order=*/true);
  PrintingVisitor print(&printer);
  Journal& j = store->journal();
  Status s = !args.tag.empty() ? j.ScanTag(args.tag, args.from_position,
                                           args.limit, print.visitor())
             : !args.type.empty()
                 ? j.ScanType(args.type, args.from_position, args.limit,
                              print.visitor())
                 : j.ScanAll(args.from_position, args.limit, print.visitor());
  print.Finish();
  if (!s.ok()) return Fail(s, "reading events in commit order");
  return kExitOk;
}

struct TailArgs {
  std::string tag;
  size_t count = 10;
  bool follow = false;
  unsigned interval_ms = 200;
};

// The newest `n` events (with `tag`, if given), oldest first.
Result<std::deque<RecordedEvent>> Newest(Journal& j, const TailArgs& args) {
  std::deque<RecordedEvent> newest;
  auto keep = [&](const EventView& e) {
    Heartbeat();
    newest.push_back(RecordedEvent::From(e));
    if (newest.size() > args.count) newest.pop_front();
    return true;
  };
  if (!args.tag.empty()) {
    Status s = j.ScanTag(args.tag, 0, kAll, keep);
    if (!s.ok()) return s;
    return newest;
  }
  Result<uint64_t> last = j.LastPosition();
  if (!last.ok()) return last.status();
  // Deletions leave holes in the positions: widen the window until it
  // holds n events or reaches the start.
  uint64_t span = std::max<uint64_t>(args.count, 1);
  for (;;) {
    newest.clear();
    uint64_t from = *last >= span ? *last - span + 1 : 1;
    Status s = j.ScanAll(from, kAll, keep);
    if (!s.ok()) return s;
    if (newest.size() >= args.count || from == 1) return newest;
    span *= 4;
  }
}

EventView ViewOf(const RecordedEvent& e, std::vector<std::string_view>* tags) {
  tags->assign(e.tags.begin(), e.tags.end());
  return EventView{
      e.stream,         e.seq,     e.position, e.timestamp_ns, e.type,
      e.schema_version, e.payload, *tags,      e.id,           e.causation_id,
      e.correlation_id, e.metadata};
}

int RunTail(const Options& o, const TailArgs& args) {
  std::unique_ptr<Schema> schema;
  if (!LoadSchema(o, &schema)) return kExitUsage;
  std::unique_ptr<PluginDecoder> decoder;
  if (!LoadDecoder(o, &decoder)) return kExitUsage;
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  Journal& j = store->journal();
  Result<uint64_t> start = j.LastPosition();
  if (!start.ok()) return Fail(start.status(), "reading the last position");
  Result<std::deque<RecordedEvent>> newest = Newest(j, args);
  if (!newest.ok()) return Fail(newest.status(), "reading the newest events");
  EventPrinter printer(o, schema.get(), decoder.get(),
                       /*in_commit_order=*/true);
  uint64_t next = *start + 1;
  std::vector<std::string_view> tags;
  for (const RecordedEvent& e : *newest) {
    printer.Print(ViewOf(e, &tags));
    next = std::max(next, e.position + 1);
  }
  printer.Flush();
  if (!args.follow) return kExitOk;
  // Each look is one read of the log from `next`; between looks, wait for
  // a commit (Journal::WaitForCommit: the writing process wakes this one
  // through memoir.notify) or at most the interval.
  for (;;) {
    Heartbeat();
    PrintingVisitor print(&printer);
    Status s = args.tag.empty()
                   ? j.ScanAll(next, kAll, print.visitor())
                   : j.ScanTag(args.tag, next, kAll, print.visitor());
    print.Finish();
    if (!s.ok()) return Fail(s, "following new events");
    next = std::max(next, print.last_position() + 1);
    Result<uint64_t> waited =
        j.WaitForCommit(next - 1, std::chrono::milliseconds(args.interval_ms));
    if (!waited.ok()) return Fail(waited.status(), "following new events");
  }
}

}  // namespace

void AddEventCommands(CLI::App& app, Options& o,
                      std::vector<Command>& commands) {
  auto ev = std::make_shared<EventsArgs>();
  CLI::App* events = app.add_subcommand(
      "events",
      "Events of one stream: seq, position, time, type, schema version, "
      "size, tags, payload");
  AddStoreArg(events, o);
  AddStreamArg(events, o);
  events->add_option("--from", ev->from, "First seq (default 1)")
      ->type_name("SEQ")
      ->check(AtLeastOne());
  events->add_option("--to", ev->to, "Last seq (default: the head)")
      ->type_name("SEQ")
      ->check(AtLeastOne());
  events->add_option("--limit", ev->limit, "At most N events")
      ->type_name("N")
      ->check(AtLeastOne());
  events->add_flag("--reverse", ev->reverse, "Newest first");
  AddSchemaOption(events, o);
  AddDecodePluginOption(events, o);
  events->add_flag("--meta", o.meta,
                   "Add ID, CAUSATION, CORRELATION and METADATA columns "
                   "(--json lines carry them whenever an event has them)");
  AddJsonFlag(events, o);
  AddNoLockFlag(events, o);
  commands.push_back(
      {events, Kind::kRead, [&o, ev] { return RunEvents(o, *ev); }});

  auto al = std::make_shared<AllArgs>();
  CLI::App* all = app.add_subcommand(
      "all", "Events of every stream in commit (global position) order");
  AddStoreArg(all, o);
  all->add_option("--from-position", al->from_position,
                  "First global position (default 1)")
      ->type_name("P");
  CLI::Option* all_tag =
      all->add_option("--tag", al->tag, "Only events carrying tag T")
          ->type_name("T");
  all->add_option("--type", al->type, "Only events of type T (by its index)")
      ->type_name("T")
      ->excludes(all_tag);
  all->add_option("--limit", al->limit, "At most N events")
      ->type_name("N")
      ->check(AtLeastOne());
  AddSchemaOption(all, o);
  AddDecodePluginOption(all, o);
  all->add_flag("--meta", o.meta,
                "Add ID, CAUSATION, CORRELATION and METADATA columns "
                "(--json lines carry them whenever an event has them)");
  AddJsonFlag(all, o);
  AddNoLockFlag(all, o);
  commands.push_back({all, Kind::kRead, [&o, al] { return RunAll(o, *al); }});

  auto ta = std::make_shared<TailArgs>();
  CLI::App* tail = app.add_subcommand(
      "tail",
      "The newest events in commit order; with --follow, also those "
      "committed from now on (by any process), until interrupted");
  AddStoreArg(tail, o);
  tail->add_option("--tag", ta->tag, "Only events carrying tag T")
      ->type_name("T");
  tail->add_option("-n,--count", ta->count,
                   "How many of the newest events (default 10)")
      ->type_name("N");
  tail->add_flag("-f,--follow", ta->follow,
                 "Keep printing new events as they are committed");
  tail->add_option("--interval", ta->interval_ms,
                   "With --follow: the longest wait in milliseconds between "
                   "looks for new events (default 200); a commit ends the "
                   "wait early")
      ->type_name("MS")
      ->check(CLI::Range(10u, 2000u).description(""));
  AddSchemaOption(tail, o);
  AddDecodePluginOption(tail, o);
  tail->add_flag("--meta", o.meta,
                 "Add ID, CAUSATION, CORRELATION and METADATA columns "
                 "(--json lines carry them whenever an event has them)");
  AddJsonFlag(tail, o);
  AddNoLockFlag(tail, o);
  commands.push_back({tail, Kind::kRead, [&o, ta] { return RunTail(o, *ta); }});
}

}  // namespace memoir::cli

// The read side: subscriptions (the checkpoints kept in the store),
// projections (their versions and checkpoints), parked, rows (a
// projection's table), and reset-projection, retry-parked and drop-parked
// (the ones that write: they ask first).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>

#include "cli.h"
#include "contain.h"
#include "format.h"
#include "json.h"
#include "memoir/checkpoint_store.h"
#include "memoir/clock.h"
#include "memoir/message_store.h"
#include "memoir/projection_store.h"
#include "memoir/subscription.h"
#include "output.h"

namespace memoir::cli {
namespace {

struct RowsArgs {
  std::string projection;
  std::string table;
  std::string from;
  uint32_t version = 0;  // 0: the active one
  size_t limit = std::numeric_limits<size_t>::max();
};

struct ResetArgs {
  std::string projection;
  uint32_t version = 0;  // 0: the active one, else the newest
  bool yes = false;
};

// A projection or version that does not exist: the hint lists them.
int NotFound(std::string_view message) {
  PrintError(kExitProblems, message,
             "List the projections and their versions with 'memoir "
             "projections STORE'.");
  return kExitProblems;
}

std::string Lag(uint64_t head, uint64_t position) {
  return head > position ? std::to_string(head - position) : "0";
}

// How long ago the event at `position` (the last a consumer examined) was
// committed, while the consumer is behind `head`; 0 when caught up or the
// event is gone.
double LagSecondsAt(Store& store, uint64_t head, uint64_t position) {
  if (position >= head || position == 0) return 0;
  int64_t committed_ns = 0;
  Status s = store.journal().ScanAll(position, 1, [&](const EventView& e) {
    if (e.position == position) committed_ns = e.timestamp_ns;
    return false;
  });
  return s.ok() ? LagSeconds(head - position, committed_ns) : 0;
}

std::string LagTime(double seconds) {
  return seconds > 0 ? fmt::format("{:.1f} s", seconds) : "-";
}

int RunSubscriptions(const Options& o) {
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  Result<std::vector<SavedCheckpoint>> saved = ListCheckpoints(*store);
  if (!saved.ok()) return Fail(saved.status(), "listing checkpoints");
  Result<uint64_t> head = store->journal().LastPosition();
  if (!head.ok()) return Fail(head.status(), "reading the last position");
  Table table({{"NAME", false},
               {"CHECKPOINT", true},
               {"LAG", true},
               {"LAG-TIME", true},
               {"SAVED", false}});
  for (const SavedCheckpoint& c : *saved) {
    const double lag_s = LagSecondsAt(*store, *head, c.position);
    if (o.json) {
      PrintLine(
          JsonObject()
              .Str("name", c.name)
              .Num("checkpoint", c.position)
              .Num("head", *head)
              .Num("lag_events", *head > c.position ? *head - c.position : 0)
              .Raw("lag_seconds", fmt::format("{:.3f}", lag_s))
              .Str("saved", IsoTime(c.saved_ns))
              .str());
    } else {
      table.Row({Cell(c.name), std::to_string(c.position),
                 Lag(*head, c.position), LagTime(lag_s), IsoTime(c.saved_ns)});
    }
  }
  if (!o.json && saved->empty()) {
    PrintLine("no checkpoints are kept in this store");
  }
  return kExitOk;
}

std::string Key(const MessageKey& k) {
  return fmt::format("{}#{}", k.position, k.n);
}

// A message's own fields, for the JSON of outbox and dead-letters.
JsonObject& MessageJson(JsonObject& j, const StoredMessage& m) {
  return j.Str("key", Key(m.key))
      .Str("sender", m.id.sender)
      .Num("sender_seq", m.id.seq)
      .Num("n", m.id.n)
      .Str("receiver_type", m.receiver_type)
      .Str("receiver", m.receiver)
      .Str("type", m.type)
      .Num("schema_version", m.schema_version)
      .Num("payload_bytes", m.payload.size())
      .Str("sent", IsoTime(m.sent_ns));
}

// The durable messages waiting in the outbox, in commit order. A message
// behind an earlier one of the same sender and receiver waits for it.
int RunOutbox(const Options& o) {
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  Result<std::unique_ptr<MessageStore>> messages = InStoreMessages(*store);
  if (!messages.ok()) return Fail(messages.status(), "");
  Table table({{"KEY", false},
               {"FROM", false},
               {"TO", false},
               {"TYPE", false},
               {"SENT", false},
               {"AGE", true},
               {"WAITS-FOR", false}});
  const int64_t now = Clock::System()->NowNanos();
  std::map<std::pair<std::string, std::string>, MessageKey> first_of_pair;
  MessageKey after;
  size_t count = 0;
  for (;;) {
    Result<std::vector<StoredMessage>> page = (*messages)->Waiting(after, 1000);
    if (!page.ok()) return Fail(page.status(), "listing the outbox");
    if (page->empty()) break;
    after = page->back().key;
    for (const StoredMessage& m : *page) {
      ++count;
      auto [first, is_first] =
          first_of_pair.try_emplace({m.id.sender, m.receiver}, m.key);
      // "-": the first of its pair, in its receiver's hands or next.
      const std::string waits = is_first ? "-" : Key(first->second);
      const double age_s = std::max<int64_t>(0, now - m.sent_ns) / 1e9;
      if (o.json) {
        JsonObject j;
        PrintLine(MessageJson(j, m)
                      .Raw("age_seconds", fmt::format("{:.3f}", age_s))
                      .Str("waits_for", waits)
                      .Str("refusal_to", m.reply_type)
                      .str());
      } else {
        table.Row({Key(m.key),
                   Cell(fmt::format("{} seq {}", m.id.sender, m.id.seq)),
                   Cell(fmt::format("{} {}", m.receiver_type, m.receiver)),
                   Cell(m.type), IsoTime(m.sent_ns),
                   fmt::format("{:.1f} s", age_s), waits});
      }
    }
  }
  if (!o.json && count == 0) {
    PrintLine("no durable messages wait in this store's outbox");
  }
  return kExitOk;
}

struct DropMessageArgs {
  std::string key;
  std::string reason;
  bool yes = false;
};

// "POSITION#N" as 'memoir outbox' prints it.
bool ParseKey(const std::string& text, MessageKey* out) {
  const size_t hash = text.find('#');
  if (hash == std::string::npos || hash == 0 || hash + 1 == text.size()) {
    return false;
  }
  try {
    size_t used = 0;
    const unsigned long long position =
        std::stoull(text.substr(0, hash), &used);
    if (used != hash) return false;
    const unsigned long n = std::stoul(text.substr(hash + 1), &used);
    if (used != text.size() - hash - 1 || n > UINT32_MAX) return false;
    out->position = position;
    out->n = static_cast<uint32_t>(n);
  } catch (const std::exception&) {
    return false;
  }
  return text[0] != '-' && text[hash + 1] != '-' && out->position > 0;
}

// Moves one waiting message to the dead letters (MessageStore::Drop).
int RunDropMessage(const Options& o, const DropMessageArgs& args) {
  MessageKey key;
  if (!ParseKey(args.key, &key)) {
    PrintError(kExitUsage, fmt::format("'{}' is not an outbox key", args.key),
               fmt::format("Give it as 'memoir outbox {}' prints it, "
                           "POSITION#N (for example 12#0).",
                           o.store));
    return kExitUsage;
  }
  std::unique_ptr<Store> store = OpenForWriting(o, /*create=*/false);
  if (!store) return kExitUnreadable;
  Result<std::unique_ptr<MessageStore>> messages = InStoreMessages(*store);
  if (!messages.ok()) return Fail(messages.status(), "");
  // Waiting lists what comes after a key: start just before this one.
  const MessageKey before = key.n > 0
                                ? MessageKey{key.position, key.n - 1}
                                : MessageKey{key.position - 1, UINT32_MAX};
  Result<std::vector<StoredMessage>> at = (*messages)->Waiting(before, 1);
  if (!at.ok()) return Fail(at.status(), "reading the outbox");
  if (at->empty() || !(at->front().key == key)) {
    PrintError(kExitProblems,
               fmt::format("no message waits at {} in {}; nothing was "
                           "changed",
                           args.key, o.store),
               fmt::format("List them with 'memoir outbox {}'.", o.store));
    return kExitProblems;
  }
  const StoredMessage& m = at->front();
  const std::string what =
      fmt::format("the message {} from '{}' (seq {}) to {} '{}' ({})", args.key,
                  m.id.sender, m.id.seq, m.receiver_type, m.receiver, m.type);
  if (!args.yes &&
      !Confirm(fmt::format("Drop {} to the dead letters of {}? It will not "
                           "be delivered.",
                           what, o.store))) {
    PrintError(kExitProblems, "not confirmed; nothing was changed",
               "Type 'yes' to confirm, or pass --yes.");
    return kExitProblems;
  }
  Result<AppendResult> dropped = (*messages)->Drop(key, args.reason);
  if (!dropped.ok()) {
    return Fail(dropped.status(), fmt::format("dropping {}", args.key));
  }
  PrintLine(
      fmt::format("dropped {}: it is event {} of '{}' (list them with "
                  "'memoir dead-letters {}')",
                  what, dropped->first_seq, kDeadLetterStream, o.store));
  return kExitOk;
}

// The messages given up on, oldest first.
int RunDeadLetters(const Options& o) {
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  Table table({{"SEQ", true},
               {"DROPPED", false},
               {"KEY", false},
               {"FROM", false},
               {"TO", false},
               {"TYPE", false},
               {"REASON", false}});
  size_t count = 0;
  std::string error;
  Status s = store->journal().Scan(
      kDeadLetterStream, ReadOptions{}, [&](const EventView& e) {
        ++count;
        Result<DeadLetter> d = e.type == kDeadLetterType
                                   ? DecodeDeadLetter(e.payload)
                                   : Status::Corruption("not a dead letter");
        if (!d.ok()) {
          error = fmt::format("event {} of '{}': {}", e.seq, kDeadLetterStream,
                              d.status().message());
          return false;
        }
        const StoredMessage& m = d->message;
        if (o.json) {
          JsonObject j;
          j.Num("seq", e.seq).Str("dropped", IsoTime(e.timestamp_ns));
          PrintLine(MessageJson(j, m).Str("reason", d->reason).str());
        } else {
          table.Row({std::to_string(e.seq), IsoTime(e.timestamp_ns), Key(m.key),
                     Cell(fmt::format("{} seq {}", m.id.sender, m.id.seq)),
                     Cell(fmt::format("{} {}", m.receiver_type, m.receiver)),
                     Cell(m.type), Cell(d->reason)});
        }
        return true;
      });
  if (!s.ok() && !s.IsNotFound() && !s.IsStreamDeleted()) {
    return Fail(s, fmt::format("reading '{}'", kDeadLetterStream));
  }
  if (!error.empty()) {
    return Fail(Status::Corruption(error), "reading the dead letters");
  }
  if (!o.json && count == 0) {
    PrintLine("no durable message was dropped in this store");
  }
  return kExitOk;
}

// The pending durable timers, soonest first.
int RunTimers(const Options& o) {
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  Result<std::unique_ptr<MessageStore>> messages = InStoreMessages(*store);
  if (!messages.ok()) return Fail(messages.status(), "");
  std::vector<StoredTimer> timers;
  for (;;) {
    Result<std::vector<StoredTimer>> page =
        timers.empty() ? (*messages)->Timers("", "", 1000)
                       : (*messages)->Timers(timers.back().stream,
                                             timers.back().key, 1000);
    if (!page.ok()) return Fail(page.status(), "listing the timers");
    if (page->empty()) break;
    for (StoredTimer& t : *page) timers.push_back(std::move(t));
  }
  std::stable_sort(timers.begin(), timers.end(),
                   [](const StoredTimer& a, const StoredTimer& b) {
                     return a.due_ns < b.due_ns;
                   });
  Table table({{"ACTOR", false},
               {"KEY", false},
               {"DUE", false},
               {"IN", true},
               {"COMMAND", false},
               {"STARTED-WITH", false}});
  const int64_t now = Clock::System()->NowNanos();
  for (const StoredTimer& t : timers) {
    const double in_s = double(t.due_ns - now) / 1e9;
    // A refused message on its way back to its sender (ReplyIfRefused).
    std::optional<Refusal> refusal;
    if (t.type == kRefusalType) {
      Result<Refusal> r = DecodeRefusal(t.payload);
      if (r.ok()) refusal = std::move(r).value();
    }
    std::string command = t.type;
    if (refusal) {
      command = fmt::format("{} ({} by {})", t.type, refusal->command_type,
                            refusal->receiver);
    }
    if (o.json) {
      JsonObject row;
      row.Str("actor_type", t.receiver_type)
          .Str("actor", t.stream)
          .Str("key", t.key)
          .Str("due", IsoTime(t.due_ns))
          .Raw("due_in_seconds", fmt::format("{:.3f}", in_s))
          .Str("type", t.type)
          .Num("schema_version", t.schema_version)
          .Num("payload_bytes", t.payload.size())
          .Num("seq", t.id.seq)
          .Num("n", t.id.n)
          .Str("started", IsoTime(t.set_ns));
      if (refusal) {
        row.Str("refused_by", refusal->receiver)
            .Str("refused_command", refusal->command_type)
            .Str("reason", refusal->reason);
      }
      PrintLine(row.str());
    } else {
      table.Row({Cell(fmt::format("{} {}", t.receiver_type, t.stream)),
                 Cell(t.key), IsoTime(t.due_ns),
                 in_s >= 0 ? fmt::format("{:.1f} s", in_s)
                           : fmt::format("overdue {:.1f} s", -in_s),
                 Cell(command), fmt::format("seq {} #{}", t.id.seq, t.id.n)});
    }
  }
  if (!o.json && timers.empty()) {
    PrintLine("no durable timers are pending in this store");
  }
  return kExitOk;
}

int RunParked(const Options& o, const std::string& name) {
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  Result<std::unique_ptr<CheckpointStore>> checkpoints =
      InStoreCheckpoints(*store);
  if (!checkpoints.ok()) return Fail(checkpoints.status(), "");
  Result<std::vector<ParkedEvent>> parked = (*checkpoints)->Parked(name);
  if (!parked.ok()) {
    return Fail(parked.status(),
                fmt::format("listing the parked events of '{}'", name));
  }
  Table table({{"POSITION", true},
               {"STREAM", false},
               {"SEQ", true},
               {"TYPE", false},
               {"PARKED", false},
               {"WHY", false}});
  for (const ParkedEvent& p : *parked) {
    if (o.json) {
      PrintLine(JsonObject()
                    .Num("position", p.position)
                    .Str("stream", p.stream)
                    .Num("seq", p.seq)
                    .Str("type", p.type)
                    .Bool("behind", p.behind)
                    .Bool("retry", p.retry)
                    .Str("parked", IsoTime(p.parked_ns))
                    .Str("error", p.error)
                    .str());
    } else {
      table.Row({std::to_string(p.position), Cell(p.stream),
                 std::to_string(p.seq), Cell(p.type), IsoTime(p.parked_ns),
                 Cell(p.error, 200)});
    }
  }
  if (!o.json) {
    table.Flush();
    const size_t retry = static_cast<size_t>(
        std::count_if(parked->begin(), parked->end(),
                      [](const ParkedEvent& p) { return p.retry; }));
    PrintLine(parked->empty()
                  ? fmt::format("'{}' has no parked events", name)
                  : fmt::format("{} parked by '{}'; its process delivers "
                                "them again with RetryParked after a fix{}",
                                parked->size() == 1
                                    ? std::string("1 event")
                                    : fmt::format("{} events", parked->size()),
                                name,
                                retry == 0
                                    ? std::string()
                                    : fmt::format(" ({} marked for a retry "
                                                  "when it next starts)",
                                                  retry)));
  }
  return kExitOk;
}

std::string StateOf(const ProjectionVersion& v) {
  if (v.active) return "active";
  if (v.retired) return "retired";
  return "building";
}

int RunProjections(const Options& o) {
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  Result<std::unique_ptr<ProjectionStore>> tables = InStoreProjections(*store);
  if (!tables.ok()) return Fail(tables.status(), "opening the projections");
  Result<std::vector<ProjectionVersion>> all = (*tables)->List();
  if (!all.ok()) return Fail(all.status(), "listing projections");
  Result<uint64_t> head = store->journal().LastPosition();
  if (!head.ok()) return Fail(head.status(), "reading the last position");
  Table table({{"NAME", false},
               {"VERSION", true},
               {"STATE", false},
               {"CHECKPOINT", true},
               {"LAG", true},
               {"LAG-TIME", true},
               {"SAVED", false}});
  for (const ProjectionVersion& v : *all) {
    const double lag_s = LagSecondsAt(*store, *head, v.checkpoint);
    if (o.json) {
      PrintLine(JsonObject()
                    .Str("name", v.name)
                    .Num("version", v.version)
                    .Str("state", StateOf(v))
                    .Num("checkpoint", v.checkpoint)
                    .Num("head", *head)
                    .Num("lag_events",
                         *head > v.checkpoint ? *head - v.checkpoint : 0)
                    .Raw("lag_seconds", fmt::format("{:.3f}", lag_s))
                    .Str("saved", IsoTime(v.saved_ns))
                    .str());
    } else {
      table.Row({Cell(v.name), std::to_string(v.version), StateOf(v),
                 std::to_string(v.checkpoint), Lag(*head, v.checkpoint),
                 LagTime(lag_s), IsoTime(v.saved_ns)});
    }
  }
  if (!o.json && all->empty()) {
    PrintLine("no projections are kept in this store");
  }
  return kExitOk;
}

int RunRows(const Options& o, const RowsArgs& args) {
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  Result<std::unique_ptr<ProjectionStore>> tables = InStoreProjections(*store);
  if (!tables.ok()) return Fail(tables.status(), "opening the projections");
  Result<std::unique_ptr<ProjectionSnapshot>> snapshot =
      args.version == 0 ? (*tables)->Read(args.projection)
                        : (*tables)->ReadVersion(args.projection, args.version);
  if (snapshot.status().IsNotFound()) {
    return NotFound(snapshot.status().message());
  }
  if (!snapshot.ok()) {
    return Fail(snapshot.status(),
                fmt::format("reading projection '{}'", args.projection));
  }
  Table table({{"KEY", false}, {"VALUE", false}});
  size_t printed = 0;
  Status s = (*snapshot)->Scan(
      args.table, args.from, [&](std::string_view key, std::string_view value) {
        Heartbeat();
        if (o.json) {
          JsonObject row;
          row.Str("key", key);
          if (IsUtf8(value)) {
            row.Str("value", value);
          } else {
            row.Str("value_base64", Base64(value));
          }
          PrintLine(row.str());
        } else {
          table.Row({Cell(key), Preview(value)});
        }
        return ++printed < args.limit;
      });
  if (!s.ok()) {
    return Fail(s, fmt::format("reading table '{}' of projection '{}'",
                               args.table, args.projection));
  }
  if (!o.json) {
    table.Flush();
    const ProjectionVersion& v = (*snapshot)->version();
    PrintLine(
        fmt::format("{} of '{}' version {} ({}), up to position {}",
                    printed == 1 ? "1 row" : fmt::format("{} rows", printed),
                    args.table, v.version, StateOf(v), v.checkpoint));
  }
  return kExitOk;
}

// The version reset-projection acts on: the one asked for, else the
// active one, else the newest.
std::optional<ProjectionVersion> Pick(const std::vector<ProjectionVersion>& all,
                                      const ResetArgs& args) {
  std::optional<ProjectionVersion> active, newest, asked;
  for (const ProjectionVersion& v : all) {
    if (v.name != args.projection) continue;
    if (v.version == args.version) asked = v;
    if (v.active) active = v;
    if (!v.retired && (!newest || v.version > newest->version)) newest = v;
  }
  if (args.version != 0) return asked;
  return active ? active : newest;
}

int RunResetProjection(const Options& o, const ResetArgs& args) {
  std::unique_ptr<Store> store = OpenForWriting(o, /*create=*/false);
  if (!store) return kExitUnreadable;
  Result<std::unique_ptr<ProjectionStore>> tables = InStoreProjections(*store);
  if (!tables.ok()) return Fail(tables.status(), "opening the projections");
  Result<std::vector<ProjectionVersion>> all = (*tables)->List();
  if (!all.ok()) return Fail(all.status(), "listing projections");
  std::optional<ProjectionVersion> v = Pick(*all, args);
  if (!v) {
    const std::string what =
        args.version == 0
            ? fmt::format("no projection '{}' in {}", args.projection, o.store)
            : fmt::format("projection '{}' has no version {} in {}",
                          args.projection, args.version, o.store);
    return NotFound(what);
  }
  if (!args.yes &&
      !Confirm(fmt::format("Empty the tables of projection '{}' version {} "
                           "in {} and set its checkpoint to 0 (it is rebuilt "
                           "from the journal when its process runs next)?",
                           v->name, v->version, o.store))) {
    PrintError(kExitProblems, "not confirmed; nothing was changed",
               "Type 'yes' to confirm, or pass --yes.");
    return kExitProblems;
  }
  Status s = (*tables)->Reset(v->name, v->version);
  if (!s.ok()) return Fail(s, fmt::format("resetting '{}'", v->name));
  PrintLine(
      fmt::format("reset projection '{}' version {}: its tables are "
                  "empty and its checkpoint is 0",
                  v->name, v->version));
  return kExitOk;
}

struct RetryArgs {
  std::string name;
  bool yes = false;
};

int RunRetryParked(const Options& o, const RetryArgs& args) {
  std::unique_ptr<Store> store = OpenForWriting(o, /*create=*/false);
  if (!store) return kExitUnreadable;
  Result<std::unique_ptr<CheckpointStore>> checkpoints =
      InStoreCheckpoints(*store);
  if (!checkpoints.ok()) return Fail(checkpoints.status(), "");
  Result<std::vector<ParkedEvent>> parked = (*checkpoints)->Parked(args.name);
  if (!parked.ok()) {
    return Fail(parked.status(),
                fmt::format("listing the parked events of '{}'", args.name));
  }
  if (parked->empty()) {
    return NotFound(
        fmt::format("'{}' has no parked events in {}", args.name, o.store));
  }
  if (!args.yes &&
      !Confirm(fmt::format("Mark the {} events '{}' parked in {} for a retry "
                           "(its process delivers them again when it next "
                           "starts)?",
                           parked->size(), args.name, o.store))) {
    PrintError(kExitProblems, "not confirmed; nothing was changed",
               "Type 'yes' to confirm, or pass --yes.");
    return kExitProblems;
  }
  Result<size_t> marked = (*checkpoints)->RequestRetry(args.name);
  if (!marked.ok()) {
    return Fail(marked.status(), fmt::format("marking the parked events of "
                                             "'{}'",
                                             args.name));
  }
  PrintLine(
      fmt::format("marked {} parked events of '{}' for a retry: its "
                  "process delivers them again when it next starts",
                  *marked, args.name));
  return kExitOk;
}

struct DropArgs {
  std::string name;
  uint64_t position = 0;
  bool yes = false;
};

// Drops one parked record, readable or damaged. A damaged record makes the
// list unreadable, so that with one the command learns whether a record
// was at the position only from the deletion itself, and says what it
// found either way.
int RunDropParked(const Options& o, const DropArgs& args) {
  std::unique_ptr<Store> store = OpenForWriting(o, /*create=*/false);
  if (!store) return kExitUnreadable;
  Result<std::unique_ptr<CheckpointStore>> checkpoints =
      InStoreCheckpoints(*store);
  if (!checkpoints.ok()) return Fail(checkpoints.status(), "");
  Result<std::vector<ParkedEvent>> before = (*checkpoints)->Parked(args.name);
  if (!before.ok() && !before.status().IsCorruption()) {
    return Fail(before.status(),
                fmt::format("listing the parked events of '{}'", args.name));
  }
  auto none_there = [&] {
    PrintError(kExitProblems,
               fmt::format("'{}' has no parked event at position {} in {}; "
                           "nothing was changed",
                           args.name, args.position, o.store),
               fmt::format("List them with 'memoir parked {} {}'.", o.store,
                           args.name));
    return kExitProblems;
  };
  const ParkedEvent* found = nullptr;
  if (before.ok()) {
    for (const ParkedEvent& p : *before) {
      if (p.position == args.position) found = &p;
    }
    if (found == nullptr) return none_there();
  }
  const std::string what =
      found != nullptr
          ? fmt::format(
                "the parked event at position {} of '{}' (stream "
                "'{}' seq {})",
                args.position, args.name, found->stream, found->seq)
          : fmt::format(
                "the parked record at position {} of '{}', if there "
                "is one (a parked record of '{}' is damaged: {})",
                args.position, args.name, args.name, before.status().message());
  if (!args.yes &&
      !Confirm(fmt::format("Drop {} from {}? It will not be delivered again "
                           "unless the consumer's checkpoint is set below "
                           "it.",
                           what, o.store))) {
    PrintError(kExitProblems, "not confirmed; nothing was changed",
               "Type 'yes' to confirm, or pass --yes.");
    return kExitProblems;
  }
  Result<bool> dropped = (*checkpoints)->DropParked(args.name, args.position);
  if (!dropped.ok()) {
    return Fail(dropped.status(), fmt::format("dropping position {} of '{}'",
                                              args.position, args.name));
  }
  if (!*dropped) return none_there();
  const std::string gone =
      found != nullptr
          ? fmt::format("dropped {}", what)
          : fmt::format("dropped the parked record at position {} of '{}'",
                        args.position, args.name);
  Result<std::vector<ParkedEvent>> after = (*checkpoints)->Parked(args.name);
  if (!after.ok()) {
    PrintLine(gone);
    return Fail(after.status(),
                fmt::format("listing the parked events of '{}' left after "
                            "dropping position {}",
                            args.name, args.position));
  }
  PrintLine(
      fmt::format("{}; {} left", gone,
                  Plural(after->size(), "parked event", "parked events")));
  return kExitOk;
}

}  // namespace

void AddReadSideCommands(CLI::App& app, Options& o,
                         std::vector<Command>& commands) {
  CLI::App* subs = app.add_subcommand(
      "subscriptions",
      "The checkpoints kept in the store: each consumer's position, its lag "
      "behind the last position, when it was saved");
  AddStoreArg(subs, o);
  AddJsonFlag(subs, o);
  AddNoLockFlag(subs, o);
  commands.push_back({subs, Kind::kRead, [&o] { return RunSubscriptions(o); }});

  CLI::App* projections = app.add_subcommand(
      "projections",
      "The projections kept in the store: each version's state (active, "
      "building, retired), checkpoint, lag and last save");
  AddStoreArg(projections, o);
  AddJsonFlag(projections, o);
  AddNoLockFlag(projections, o);
  commands.push_back(
      {projections, Kind::kRead, [&o] { return RunProjections(o); }});

  CLI::App* outbox = app.add_subcommand(
      "outbox",
      "The durable messages (Effect::Send) waiting to be taken, in commit "
      "order: sender, receiver, command type, age, and the message each "
      "waits for (one at a time per sender and receiver)");
  AddStoreArg(outbox, o);
  AddJsonFlag(outbox, o);
  AddNoLockFlag(outbox, o);
  commands.push_back({outbox, Kind::kRead, [&o] { return RunOutbox(o); }});

  auto drop_message_args = std::make_shared<DropMessageArgs>();
  CLI::App* drop_message = app.add_subcommand(
      "drop-message",
      "Give up on one durable message waiting in the outbox (one no retry "
      "will deliver): it moves to the dead letters, and the next message of "
      "its sender and receiver goes next (the store must be closed by its "
      "owner; a running one takes ActorSystem::DropMessage); asks for "
      "confirmation unless --yes");
  AddStoreArg(drop_message, o);
  drop_message
      ->add_option("KEY", drop_message_args->key,
                   "The message's key, as 'memoir outbox' prints it")
      ->required()
      ->type_name("POSITION#N");
  drop_message
      ->add_option("--reason", drop_message_args->reason, "Why, kept with it")
      ->required()
      ->type_name("TEXT");
  drop_message->add_flag("-y,--yes", drop_message_args->yes,
                         "Do not ask for confirmation");
  commands.push_back({drop_message, Kind::kWrite, [&o, drop_message_args] {
                        return RunDropMessage(o, *drop_message_args);
                      }});

  CLI::App* dead =
      app.add_subcommand("dead-letters",
                         "The durable messages given up on (drop-message, "
                         "ActorSystem::DropMessage), oldest first, with why");
  AddStoreArg(dead, o);
  AddJsonFlag(dead, o);
  AddNoLockFlag(dead, o);
  commands.push_back({dead, Kind::kRead, [&o] { return RunDeadLetters(o); }});

  CLI::App* timers = app.add_subcommand(
      "timers",
      "The durable timers (Effect::StartTimer) pending, soonest first: "
      "actor, key, when due, the command it will send, and the event that "
      "started it; refused messages on their way back to their senders "
      "(ReplyIfRefused) are listed too, under keys $refused-<seq>-<n>");
  AddStoreArg(timers, o);
  AddJsonFlag(timers, o);
  AddNoLockFlag(timers, o);
  commands.push_back({timers, Kind::kRead, [&o] { return RunTimers(o); }});

  auto parked_name = std::make_shared<std::string>();
  CLI::App* parked = app.add_subcommand(
      "parked",
      "The events a subscription or projection parked after its handler "
      "failed on them, in position order, with the error");
  AddStoreArg(parked, o);
  parked
      ->add_option("NAME", *parked_name,
                   "The subscription, or NAME@vVERSION for a projection")
      ->required()
      ->type_name("NAME");
  AddJsonFlag(parked, o);
  AddNoLockFlag(parked, o);
  commands.push_back({parked, Kind::kRead, [&o, parked_name] {
                        return RunParked(o, *parked_name);
                      }});

  auto rows_args = std::make_shared<RowsArgs>();
  CLI::App* rows = app.add_subcommand(
      "rows",
      "The rows of one table of a projection (its active version unless "
      "--version), in key order");
  AddStoreArg(rows, o);
  rows->add_option("PROJECTION", rows_args->projection, "The projection")
      ->required()
      ->type_name("NAME");
  rows->add_option("TABLE", rows_args->table, "The table")
      ->required()
      ->type_name("TABLE");
  rows->add_option("--from", rows_args->from, "Start at key K")->type_name("K");
  rows->add_option("--version", rows_args->version,
                   "Read version V, active or not")
      ->type_name("V")
      ->check(AtLeastOne());
  rows->add_option("--limit", rows_args->limit, "At most N rows")
      ->type_name("N")
      ->check(AtLeastOne());
  AddJsonFlag(rows, o);
  AddNoLockFlag(rows, o);
  commands.push_back(
      {rows, Kind::kRead, [&o, rows_args] { return RunRows(o, *rows_args); }});

  auto reset_args = std::make_shared<ResetArgs>();
  CLI::App* reset = app.add_subcommand(
      "reset-projection",
      "Empty a projection's tables and set its checkpoint to 0, in one "
      "transaction, so that it rebuilds; asks for confirmation unless --yes");
  AddStoreArg(reset, o);
  reset->add_option("PROJECTION", reset_args->projection, "The projection")
      ->required()
      ->type_name("NAME");
  reset
      ->add_option("--version", reset_args->version,
                   "Reset version V (default: the active one)")
      ->type_name("V")
      ->check(AtLeastOne());
  reset->add_flag("-y,--yes", reset_args->yes, "Do not ask for confirmation");
  commands.push_back({reset, Kind::kWrite, [&o, reset_args] {
                        return RunResetProjection(o, *reset_args);
                      }});

  auto retry_args = std::make_shared<RetryArgs>();
  CLI::App* retry = app.add_subcommand(
      "retry-parked",
      "Mark the events a subscription or projection parked for a retry "
      "when its process next starts (the store must be closed by its "
      "owner; a running one takes RetryParked); asks for confirmation "
      "unless --yes");
  AddStoreArg(retry, o);
  retry
      ->add_option("NAME", retry_args->name,
                   "The subscription, or NAME@vVERSION for a projection")
      ->required()
      ->type_name("NAME");
  retry->add_flag("-y,--yes", retry_args->yes, "Do not ask for confirmation");
  commands.push_back({retry, Kind::kWrite, [&o, retry_args] {
                        return RunRetryParked(o, *retry_args);
                      }});

  auto drop_args = std::make_shared<DropArgs>();
  CLI::App* drop = app.add_subcommand(
      "drop-parked",
      "Forget one event a subscription or projection parked, readable or "
      "damaged, so that it is never delivered again (the store must be "
      "closed by its owner); asks for confirmation unless --yes");
  AddStoreArg(drop, o);
  drop->add_option("NAME", drop_args->name,
                   "The subscription, or NAME@vVERSION for a projection")
      ->required()
      ->type_name("NAME");
  drop->add_option("POSITION", drop_args->position,
                   "The parked event's position")
      ->required()
      ->type_name("POSITION")
      ->check(AtLeastOne());
  drop->add_flag("-y,--yes", drop_args->yes, "Do not ask for confirmation");
  commands.push_back({drop, Kind::kWrite, [&o, drop_args] {
                        return RunDropParked(o, *drop_args);
                      }});
}

}  // namespace memoir::cli

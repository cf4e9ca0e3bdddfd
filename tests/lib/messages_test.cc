// Durable messages in the store (memoir/message_store.h): a message is
// written with the event that sends it or not at all, and taken with the
// receiver's events, inbox record and removal from the outbox or not at
// all. Failure paths first.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "memoir/message_store.h"
#include "memoir/store.h"
#include "support/lmdb_pages.h"
#include "support/open_store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

using test::FastStore;
using test::OpenStoreOrFail;

EventData Ev(std::string type) { return {std::move(type), "e", 1, {}}; }

OutgoingMessage To(std::string receiver, std::string command,
                   size_t with_event = OutgoingMessage{}.with_event) {
  OutgoingMessage m;
  m.receiver_type = "account";
  m.receiver = std::move(receiver);
  m.command = {std::move(command), "payload-" + m.receiver, 2, {}};
  m.command.metadata = "meta";
  m.with_event = with_event;
  return m;
}

std::unique_ptr<MessageStore> Messages(Store& store) {
  auto m = InStoreMessages(store);
  REQUIRE_MESSAGE(m.ok(), m.status().ToString());
  return std::move(m).value();
}

std::vector<StoredMessage> AllWaiting(MessageStore& m) {
  auto w = m.Waiting({}, 1000);
  REQUIRE_MESSAGE(w.ok(), w.status().ToString());
  return *w;
}

uint64_t Head(Store& store, const std::string& stream) {
  auto h = store.journal().Head(stream);
  return h.ok() ? *h : 0;
}

MessageCommitResult Send(MessageStore& m, const std::string& sender,
                         std::vector<OutgoingMessage> send, int events = 1) {
  MessageCommit c;
  c.append.stream = sender;
  for (int i = 0; i < events; ++i) c.append.events.push_back(Ev("Sent"));
  c.send = std::move(send);
  auto r = m.Commit(std::move(c));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return *r;
}

Status Take(MessageStore& m, const std::string& receiver,
            const StoredMessage& message, int events = 1,
            Expected expected = Expected::Any()) {
  MessageCommit c;
  c.append.stream = receiver;
  c.append.expected = expected;
  for (int i = 0; i < events; ++i) c.append.events.push_back(Ev("Taken"));
  c.take.push_back({message.key, message.id});
  return m.Commit(std::move(c)).status();
}

TEST_CASE(
    "a message commit refuses bad arguments and a read-only store, and "
    "writes nothing") {
  test::TempDir dir;
  {
    auto store = OpenStoreOrFail(dir.path(), FastStore());
    auto m = Messages(*store);
    auto refused = [&](MessageCommit c, const char* says) {
      Status s = m->Commit(std::move(c)).status();
      CHECK(s.IsInvalidArgument());
      CHECK_MESSAGE(s.ToString().find(says) != std::string::npos, s.ToString());
    };
    MessageCommit c;
    c.append.stream = "sender";
    refused(c, "no events, no messages to send and none to take");
    c.send.push_back(To("r", "Debit"));
    refused(c, "without events");
    c.append.events.push_back(Ev("Sent"));
    c.send[0].with_event = 1;
    refused(c, "with_event 1 is past the append's 1 events");
    c.send[0] = To("r", "Debit");
    c.send[0].receiver_type.clear();
    refused(c, "a receiver type must be 1 to 255 bytes");
    c.send[0] = To("", "Debit");
    refused(c, "receiver");
    c.send[0] = To("r", "");
    refused(c, "a command type must be 1 to");
    c.send[0] = To("r", std::string(kRefusalType));
    refused(c, "is memoir's own");
    c.send[0] = To("r", "Debit");
    c.take.push_back({{0, 0}, {"s", 1, 0}});
    refused(c, "not an outbox entry and id");
    c.take.clear();
    c.append.stream = "";
    CHECK(m->Commit(c).status().IsInvalidArgument());
    CHECK(AllWaiting(*m).empty());
    CHECK(Head(*store, "sender") == 0);
  }
  auto store = test::OpenReadOnlyOrFail(dir.path());
  auto m = Messages(*store);
  MessageCommit c;
  c.append = {"sender", Expected::Any(), {Ev("Sent")}};
  c.send.push_back(To("r", "Debit"));
  Status s = m->Commit(std::move(c)).status();
  CHECK(s.IsInvalidArgument());
  CHECK(s.ToString().find("read-only") != std::string::npos);
  CHECK(AllWaiting(*m).empty());
}

TEST_CASE("a refused append writes neither its events nor its messages") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  MessageCommit c;
  c.append = {"sender", Expected::At(5), {Ev("Sent")}};
  c.send.push_back(To("r", "Debit"));
  Status s = m->Commit(std::move(c)).status();
  CHECK(s.IsConflict());
  CHECK(AllWaiting(*m).empty());
  CHECK(Head(*store, "sender") == 0);
}

TEST_CASE(
    "sent messages wait in commit order, with delivery ids from the event "
    "each was sent with") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  REQUIRE(store->journal().Append("other", Expected::Any(), {Ev("X")}).ok());
  MessageCommitResult r =
      Send(*m, "sender",
           {To("a", "Debit", 0), To("b", "Credit"), To("c", "Note", 0)},
           /*events=*/3);
  CHECK(r.append.first_seq == 1);
  CHECK(r.append.first_position == 2);
  REQUIRE(r.sent.size() == 3);
  CHECK(r.sent[0].id == DeliveryId{"sender", 1, 0});
  CHECK(r.sent[0].key == MessageKey{2, 0});
  CHECK(r.sent[1].id == DeliveryId{"sender", 3, 0});
  CHECK(r.sent[1].key == MessageKey{4, 0});
  CHECK(r.sent[2].id == DeliveryId{"sender", 1, 1});
  CHECK(r.sent[2].key == MessageKey{2, 1});
  std::vector<StoredMessage> waiting = AllWaiting(*m);
  REQUIRE(waiting.size() == 3);
  CHECK(waiting[0].receiver == "a");
  CHECK(waiting[1].receiver == "c");
  CHECK(waiting[2].receiver == "b");
  const StoredMessage& b = waiting[2];
  CHECK(b.receiver_type == "account");
  CHECK(b.type == "Credit");
  CHECK(b.schema_version == 2);
  CHECK(b.payload == "payload-b");
  CHECK(b.metadata == "meta");
  CHECK(b.sent_ns > 0);
  // Paging: after a key, up to a count.
  auto page = m->Waiting(waiting[0].key, 1);
  REQUIRE(page.ok());
  REQUIRE(page->size() == 1);
  CHECK(page->front().key == waiting[1].key);
  CHECK(m->Waiting(waiting[2].key, 10)->empty());
  CHECK(m->Waiting({}, 0)->empty());
}

TEST_CASE(
    "taking a message commits the receiver's events, its inbox record and "
    "the removal together; a second take is refused and writes nothing") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  MessageCommitResult sent =
      Send(*m, "sender", {To("receiver", "Debit"), To("other", "Debit")});
  const StoredMessage& mine = sent.sent[0];
  CHECK(m->LastTaken("receiver", "sender")->seq == 0);
  REQUIRE(Take(*m, "receiver", mine, 2).ok());
  CHECK(Head(*store, "receiver") == 2);
  DeliveryId last = m->LastTaken("receiver", "sender").value();
  CHECK(last == mine.id);
  std::vector<StoredMessage> waiting = AllWaiting(*m);
  REQUIRE(waiting.size() == 1);
  CHECK(waiting[0].receiver == "other");
  // Again: gone from the outbox, so refused, and no events are written.
  Status again = Take(*m, "receiver", mine);
  CHECK(again.IsNotFound());
  CHECK(again.ToString().find("not waiting in the outbox") !=
        std::string::npos);
  CHECK(Head(*store, "receiver") == 2);
  CHECK(m->LastTaken("receiver", "sender").value() == mine.id);
}

TEST_CASE(
    "a take by another receiver or with another id is refused and writes "
    "nothing") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  StoredMessage msg = Send(*m, "sender", {To("receiver", "Debit")}).sent[0];
  Status wrong_receiver = Take(*m, "intruder", msg);
  CHECK(wrong_receiver.IsNotFound());
  CHECK(wrong_receiver.ToString().find("it is there for 'receiver'") !=
        std::string::npos);
  StoredMessage forged = msg;
  forged.id.seq = 7;
  CHECK(Take(*m, "receiver", forged).IsNotFound());
  CHECK(Head(*store, "intruder") == 0);
  CHECK(Head(*store, "receiver") == 0);
  CHECK(AllWaiting(*m).size() == 1);
}

TEST_CASE(
    "one sender's messages taken out of order are refused, and the earlier "
    "one stays waiting") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  StoredMessage first = Send(*m, "sender", {To("r", "One")}).sent[0];
  StoredMessage second = Send(*m, "sender", {To("r", "Two")}).sent[0];
  REQUIRE(Take(*m, "r", second).ok());
  Status late = Take(*m, "r", first);
  CHECK(late.IsConflict());
  CHECK(late.ToString().find("taken in order") != std::string::npos);
  CHECK(Head(*store, "r") == 1);
  std::vector<StoredMessage> waiting = AllWaiting(*m);
  REQUIRE(waiting.size() == 1);
  CHECK(waiting[0].id == first.id);
  // Within one commit too: the second of two takes must follow the first.
  StoredMessage third = Send(*m, "sender", {To("r", "Three")}).sent[0];
  StoredMessage fourth = Send(*m, "sender", {To("r", "Four")}).sent[0];
  MessageCommit c;
  c.append = {"r", Expected::Any(), {Ev("Taken")}};
  c.take = {{fourth.key, fourth.id}, {third.key, third.id}};
  CHECK(m->Commit(c).status().IsConflict());
  std::swap(c.take[0], c.take[1]);
  REQUIRE(m->Commit(c).ok());
  CHECK(m->LastTaken("r", "sender").value() == fourth.id);
}

TEST_CASE(
    "a take whose append conflicts leaves the message waiting and the "
    "inbox as it was; a take without events (a refusal) removes it, if "
    "the stream is where it expects") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  StoredMessage msg = Send(*m, "sender", {To("r", "Debit")}).sent[0];
  Status conflict = Take(*m, "r", msg, 1, Expected::At(3));
  CHECK(conflict.IsConflict());
  CHECK(AllWaiting(*m).size() == 1);
  CHECK(m->LastTaken("r", "sender")->seq == 0);
  CHECK(Take(*m, "r", msg, /*events=*/0, Expected::At(2)).IsConflict());
  CHECK(AllWaiting(*m).size() == 1);
  REQUIRE(Take(*m, "r", msg, /*events=*/0, Expected::At(0)).ok());
  CHECK(AllWaiting(*m).empty());
  CHECK(Head(*store, "r") == 0);
  CHECK(m->LastTaken("r", "sender").value() == msg.id);
}

TEST_CASE(
    "an idempotent retry of a send's events writes its messages once, "
    "lists none, and cannot take messages") {
  test::TempDir dir;
  StoreOptions o = FastStore();
  o.generate_event_ids = true;
  auto store = OpenStoreOrFail(dir.path(), o);
  auto m = Messages(*store);
  MessageCommit c;
  c.append = {"sender", Expected::Any(), {Ev("Sent")}};
  c.append.events[0].id = Uuid::Generate();
  c.send.push_back(To("r", "Debit"));
  auto first = m->Commit(c);
  REQUIRE(first.ok());
  REQUIRE(first->sent.size() == 1);
  // Different messages this time: the retry still writes nothing.
  c.send.push_back(To("r2", "Credit"));
  auto retry = m->Commit(c);
  REQUIRE(retry.ok());
  CHECK(retry->append.first_seq == first->append.first_seq);
  CHECK(retry->sent.empty());
  CHECK(AllWaiting(*m).size() == 1);
  CHECK(Head(*store, "sender") == 1);
  // Events of two appends repeated as one request: a repeat too.
  MessageCommit second;
  second.append = {"sender", Expected::Any(), {Ev("Sent")}};
  second.append.events[0].id = Uuid::Generate();
  REQUIRE(m->Commit(second).ok());
  MessageCommit both;
  both.append = {
      "sender", Expected::Any(), {c.append.events[0], second.append.events[0]}};
  both.send.push_back(To("r", "Debit"));
  auto repeated = m->Commit(both);
  REQUIRE_MESSAGE(repeated.ok(), repeated.status().ToString());
  CHECK(repeated->sent.empty());
  CHECK(AllWaiting(*m).size() == 1);
  // Taking a message with repeated events is refused, writing nothing.
  StoredMessage waiting = AllWaiting(*m)[0];
  MessageCommit take;
  take.append = {"r", Expected::Any(), {Ev("Taken")}};
  take.append.events[0].id = Uuid::Generate();
  REQUIRE(m->Commit(take).ok());  // stores the event, no take
  take.take.push_back({waiting.key, waiting.id});
  Status refused = m->Commit(take).status();
  CHECK(refused.IsInvalidArgument());
  CHECK(refused.ToString().find("stored already") != std::string::npos);
  CHECK(AllWaiting(*m).size() == 1);
}

TEST_CASE(
    "a damaged outbox record is named by Waiting and by a take, which "
    "writes nothing") {
  test::TempDir dir;
  StoredMessage msg;
  {
    auto store = OpenStoreOrFail(dir.path(), FastStore());
    auto m = Messages(*store);
    msg = Send(*m, "sender", {To("r", "Debit")}).sent[0];
  }
  REQUIRE(test::FlipFirstRecordByte(dir.path(), "outbox").empty());
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  auto waiting = m->Waiting({}, 10);
  CHECK(waiting.status().IsCorruption());
  CHECK(waiting.status().ToString().find("outbox entry 1#0") !=
        std::string::npos);
  Status take = Take(*m, "r", msg);
  CHECK(take.IsCorruption());
  CHECK(Head(*store, "r") == 0);
}

TimerChange Start(std::string key, int64_t at_ns) {
  TimerChange t;
  t.key = std::move(key);
  t.receiver_type = "reminder";
  t.command = {"Ring", "ring-" + t.key, 1, {}};
  t.at_ns = at_ns;
  return t;
}

TimerChange Cancel(std::string key) {
  TimerChange t;
  t.key = std::move(key);
  t.cancel = true;
  return t;
}

Result<MessageCommitResult> Timers(MessageStore& m, const std::string& stream,
                                   std::vector<TimerChange> changes,
                                   std::vector<FiredTimer> fire = {},
                                   int events = 1) {
  MessageCommit c;
  c.append.stream = stream;
  for (int i = 0; i < events; ++i) c.append.events.push_back(Ev("Timed"));
  c.timers = std::move(changes);
  c.fire = std::move(fire);
  return m.Commit(std::move(c));
}

std::vector<StoredTimer> AllTimers(MessageStore& m) {
  auto t = m.Timers("", "", 1000);
  REQUIRE_MESSAGE(t.ok(), t.status().ToString());
  return *t;
}

TEST_CASE(
    "timer changes without events or with a bad key are refused and write "
    "nothing") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  auto none = Timers(*m, "s", {Start("a", 10)}, {}, /*events=*/0);
  CHECK(none.status().IsInvalidArgument());
  CHECK(none.status().ToString().find("without events") != std::string::npos);
  auto bad = Timers(*m, "s", {Start("", 10)});
  CHECK(bad.status().IsInvalidArgument());
  TimerChange negative = Start("a", -5);
  CHECK(Timers(*m, "s", {negative}).status().IsInvalidArgument());
  FiredTimer other{"a", {"someone-else", 1, 0}};
  CHECK(Timers(*m, "s", {}, {other}, 0).status().IsInvalidArgument());
  CHECK(AllTimers(*m).empty());
  CHECK(Head(*store, "s") == 0);
}

TEST_CASE(
    "a timer fires once: a second take, a cancelled or a replaced timer is "
    "refused with kNotFound and the refused commit writes nothing") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  auto started = Timers(*m, "s", {Start("a", 100), Start("b", 50)});
  REQUIRE_MESSAGE(started.ok(), started.status().ToString());
  REQUIRE(started->timers_started.size() == 2);
  const StoredTimer a = started->timers_started[0];
  CHECK(a.id == DeliveryId{"s", 1, 0});
  CHECK(started->timers_started[1].id == DeliveryId{"s", 1, 1});
  CHECK(a.due_ns == 100);
  CHECK(a.type == "Ring");
  CHECK(a.payload == "ring-a");
  std::vector<StoredTimer> all = AllTimers(*m);
  REQUIRE(all.size() == 2);
  CHECK(all[0].key == "a");  // (stream, key) order
  CHECK(all[1].key == "b");
  auto found = m->FindTimer("s", "b");
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->due_ns == 50);

  // Fired with the events it causes, once.
  auto fired = Timers(*m, "s", {}, {{"a", a.id}}, 1);
  REQUIRE_MESSAGE(fired.ok(), fired.status().ToString());
  auto again = Timers(*m, "s", {}, {{"a", a.id}}, 1);
  CHECK(again.status().IsNotFound());
  CHECK(again.status().ToString().find("not pending") != std::string::npos);
  CHECK(Head(*store, "s") == 2);  // the refused commit appended nothing

  // Replaced: the old id cannot fire; the new one can.
  auto replaced = Timers(*m, "s", {Start("b", 70)});
  REQUIRE(replaced.ok());
  const StoredTimer b2 = replaced->timers_started.at(0);
  CHECK(b2.id == DeliveryId{"s", 3, 0});
  CHECK(Timers(*m, "s", {}, {{"b", {"s", 1, 1}}}).status().IsNotFound());

  // Cancelled: listed, and it cannot fire.
  auto cancelled = Timers(*m, "s", {Cancel("b"), Cancel("never-started")});
  REQUIRE(cancelled.ok());
  CHECK(cancelled->timers_cancelled == std::vector<std::string>{"b"});
  CHECK(Timers(*m, "s", {}, {{"b", b2.id}}).status().IsNotFound());

  // Started and cancelled in one commit: cancelled only; cancelled and
  // started again: pending.
  auto both = Timers(*m, "s", {Start("c", 1), Cancel("c")});
  REQUIRE(both.ok());
  CHECK(both->timers_started.empty());
  CHECK(both->timers_cancelled == std::vector<std::string>{"c"});
  auto restart = Timers(*m, "s", {Cancel("c"), Start("c", 2)});
  REQUIRE(restart.ok());
  CHECK(restart->timers_started.size() == 1);
  all = AllTimers(*m);
  REQUIRE(all.size() == 1);
  CHECK(all[0].key == "c");
  CHECK(all[0].due_ns == 2);
}

TEST_CASE("a damaged timer record is named by Timers, FindTimer and a fire") {
  test::TempDir dir;
  {
    auto store = OpenStoreOrFail(dir.path(), FastStore());
    auto m = Messages(*store);
    REQUIRE(Timers(*m, "s", {Start("a", 100)}).ok());
  }
  REQUIRE(test::FlipFirstRecordByte(dir.path(), "timers").empty());
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  auto timers = m->Timers("", "", 10);
  CHECK(timers.status().IsCorruption());
  // Asked to, it skips the damaged record and counts it.
  size_t damaged = 0;
  auto skipped = m->Timers("", "", 10, &damaged);
  REQUIRE(skipped.ok());
  CHECK(skipped->empty());
  CHECK(damaged == 1);
  auto found = m->FindTimer("s", "a");
  CHECK(found.status().IsCorruption());
  CHECK(found.status().ToString().find("timer 'a' of 's'") !=
        std::string::npos);
  // A fire of it writes nothing.
  CHECK(Timers(*m, "s", {}, {{"a", {"s", 1, 0}}}).status().IsCorruption());
  CHECK(Head(*store, "s") == 1);
}

// A refused take of `message` by `receiver`, with `events` events of its
// own (a batch may refuse one command and handle others).
Result<MessageCommitResult> Refuse(MessageStore& m, const std::string& receiver,
                                   const StoredMessage& message,
                                   std::string reason, int events = 0,
                                   Expected expected = Expected::Any()) {
  MessageCommit c;
  c.append.stream = receiver;
  c.append.expected = expected;
  for (int i = 0; i < events; ++i) c.append.events.push_back(Ev("Taken"));
  TakenMessage t{message.key, message.id};
  t.refused = true;
  t.reason = std::move(reason);
  c.take.push_back(std::move(t));
  return m.Commit(std::move(c));
}

TEST_CASE(
    "a refused take whose commit fails sends nothing back, and a refusal "
    "of a message whose sender did not ask sends nothing back") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  OutgoingMessage asking = To("r", "Debit");
  asking.reply_type = "transfer";
  auto sent = Send(*m, "sender", {asking, To("r", "Credit")});
  REQUIRE(sent.sent.size() == 2);
  CHECK(sent.sent[0].reply_type == "transfer");
  CHECK(sent.sent[1].reply_type.empty());
  // The stream is at 0, not 5: nothing is taken, nothing sent back.
  auto failed = Refuse(*m, "r", sent.sent[0], "no", 0, Expected::At(5));
  CHECK(failed.status().IsConflict());
  CHECK(AllTimers(*m).empty());
  CHECK(AllWaiting(*m).size() == 2);
  // The second message did not ask: refused, it is only taken.
  auto first = Refuse(*m, "r", sent.sent[0], "first");
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  auto second = Refuse(*m, "r", sent.sent[1], "second");
  REQUIRE_MESSAGE(second.ok(), second.status().ToString());
  CHECK(second->refusals.empty());
  CHECK(AllWaiting(*m).empty());
  CHECK(AllTimers(*m).size() == 1);
  // A message taken by handling it sends nothing back either.
  auto again = Send(*m, "sender", {asking});
  REQUIRE(Take(*m, "r", again.sent.at(0)).ok());
  CHECK(AllTimers(*m).size() == 1);
  // TimerChange cannot use the keys refusals come back under.
  auto reserved = Timers(*m, "sender", {Cancel(first->refusals.at(0).key)});
  CHECK(reserved.status().IsInvalidArgument());
  CHECK(reserved.status().ToString().find("'$' are memoir's own") !=
        std::string::npos);
  CHECK(AllTimers(*m).size() == 1);
}

TEST_CASE(
    "a refusal the sender asked for is written with the take as the "
    "sender's timer, due at once, holding who refused what and why") {
  test::TempDir dir;
  StoredTimer back;
  {
    auto store = OpenStoreOrFail(dir.path(), FastStore());
    auto m = Messages(*store);
    OutgoingMessage asking = To("acct-1", "Debit");
    asking.reply_type = "transfer";
    auto sent = Send(*m, "transfer-7", {asking});
    auto refused =
        Refuse(*m, "acct-1", sent.sent.at(0), "insufficient funds", 1);
    REQUIRE_MESSAGE(refused.ok(), refused.status().ToString());
    CHECK(Head(*store, "acct-1") == 1);  // its other events commit too
    REQUIRE(refused->refusals.size() == 1);
    back = refused->refusals[0];
    CHECK(AllWaiting(*m).empty());
    CHECK(m->LastTaken("acct-1", "transfer-7").value() == sent.sent[0].id);
    // Taken once: a second refusal finds nothing and sends nothing.
    CHECK(Refuse(*m, "acct-1", sent.sent[0], "again").status().IsNotFound());
  }
  // Durable: a new process finds it pending under the sender.
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  std::vector<StoredTimer> all = AllTimers(*m);
  REQUIRE(all.size() == 1);
  const StoredTimer& t = all[0];
  CHECK(t.stream == "transfer-7");
  CHECK(t.key == "$refused-1-0");
  CHECK(t.key == RefusalTimerKey(t.id));
  CHECK(t.id == DeliveryId{"transfer-7", 1, 0});
  CHECK(t.receiver_type == "transfer");
  CHECK(t.type == kRefusalType);
  CHECK(t.due_ns == t.set_ns);
  CHECK(t.due_ns == back.due_ns);
  auto r = DecodeRefusal(t.payload);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->receiver_type == "account");
  CHECK(r->receiver == "acct-1");
  CHECK(r->reason == "insufficient funds");
  CHECK(r->id == t.id);
  CHECK(r->command_type == "Debit");
  CHECK(r->command_version == 2);
  CHECK(r->command_payload == "payload-acct-1");
  CHECK(DecodeRefusal(t.payload.substr(0, 20)).status().IsCorruption());
  CHECK(DecodeRefusal(t.payload + "x").status().IsCorruption());
  // The sender fires it like its own timer: once.
  CHECK(Timers(*m, "transfer-7", {}, {{t.key, t.id}}).ok());
  CHECK(Timers(*m, "transfer-7", {}, {{t.key, t.id}}).status().IsNotFound());
  CHECK(AllTimers(*m).empty());
}

TEST_CASE(
    "Drop moves a waiting message to the dead letters in one transaction; "
    "the receiver's inbox is unchanged, so the pair's next message can be "
    "taken") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  auto first = Send(*m, "sender", {To("r", "Debit")}).sent.at(0);
  auto second = Send(*m, "sender", {To("r", "Credit")}).sent.at(0);
  auto missing = m->Drop({99, 0}, "no such");
  CHECK(missing.status().IsNotFound());
  CHECK(Head(*store, std::string(kDeadLetterStream)) == 0);
  auto dropped = m->Drop(first.key, "receiver destroyed");
  REQUIRE_MESSAGE(dropped.ok(), dropped.status().ToString());
  CHECK(dropped->first_seq == 1);
  std::vector<StoredMessage> left = AllWaiting(*m);
  REQUIRE(left.size() == 1);
  CHECK(left[0].key == second.key);
  // Gone: neither a take nor a second drop finds it.
  CHECK(Take(*m, "r", first).IsNotFound());
  CHECK(m->Drop(first.key, "again").status().IsNotFound());
  CHECK(m->LastTaken("r", "sender").value().seq == 0);
  REQUIRE(Take(*m, "r", second).ok());
  // The dead letter holds the message as it waited, and why.
  std::vector<DeadLetter> letters;
  REQUIRE(store->journal()
              .Scan(std::string(kDeadLetterStream), ReadOptions{},
                    [&](const EventView& e) {
                      CHECK(e.type == kDeadLetterType);
                      auto d = DecodeDeadLetter(e.payload);
                      REQUIRE_MESSAGE(d.ok(), d.status().ToString());
                      letters.push_back(*d);
                      CHECK(DecodeDeadLetter(e.payload.substr(0, 20))
                                .status()
                                .IsCorruption());
                      return true;
                    })
              .ok());
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].reason == "receiver destroyed");
  CHECK(letters[0].message.key == first.key);
  CHECK(letters[0].message.id == first.id);
  CHECK(letters[0].message.type == "Debit");
  CHECK(letters[0].message.payload == first.payload);
  CHECK(letters[0].message.metadata == "meta");
}

TEST_CASE("a read-only store refuses Drop and DropTimers") {
  test::TempDir dir;
  MessageKey key;
  {
    auto store = OpenStoreOrFail(dir.path(), FastStore());
    key = Send(*Messages(*store), "sender", {To("r", "Debit")}).sent.at(0).key;
  }
  auto store = test::OpenReadOnlyOrFail(dir.path());
  auto m = Messages(*store);
  CHECK(m->Drop(key, "no").status().IsInvalidArgument());
  CHECK(m->DropTimers("sender").status().IsInvalidArgument());
  CHECK(AllWaiting(*m).size() == 1);
}

TEST_CASE("a long refusal reason is cut at 4096 bytes, between characters") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto m = Messages(*store);
  OutgoingMessage asking = To("r", "Debit");
  asking.reply_type = "transfer";
  auto sent = Send(*m, "s", {asking});
  // 4095 bytes of 'a', then a 2-byte character across the limit.
  std::string reason(4095, 'a');
  reason += "\xc3\xa9 and more";
  auto refused = Refuse(*m, "r", sent.sent.at(0), reason);
  REQUIRE(refused.ok());
  auto r = DecodeRefusal(refused->refusals.at(0).payload);
  REQUIRE(r.ok());
  CHECK(r->reason == std::string(4095, 'a'));
}

}  // namespace
}  // namespace memoir

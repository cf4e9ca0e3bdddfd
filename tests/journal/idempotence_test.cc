// Event ids, idempotent appends and event metadata (memoir/journal.h).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <set>
#include <string>
#include <vector>

#include "memoir/store.h"
#include "memoir/uuid.h"
#include "support/backend.h"
#include "support/open_store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

Uuid Id(uint64_t n) { return Uuid{0x0190'0000'0000'7000ULL, n}; }

// Events 0..n-1 with ids Id(first), Id(first + 1), ...
std::vector<EventData> WithIds(uint64_t first, int n) {
  std::vector<EventData> out;
  for (int i = 0; i < n; ++i) {
    EventData e;
    e.type = "Deposited";
    e.payload = "p" + std::to_string(first + static_cast<uint64_t>(i));
    e.id = Id(first + static_cast<uint64_t>(i));
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<EventData> Plain(int n) {
  std::vector<EventData> out;
  for (int i = 0; i < n; ++i) out.push_back({"Tick", "x", 1, {}});
  return out;
}

uint64_t HeadOf(Store& s, const std::string& stream) {
  auto h = s.journal().Head(stream);
  REQUIRE_MESSAGE(h.ok(), h.status().ToString());
  return *h;
}

uint64_t LogEnd(Store& s) {
  auto p = s.journal().LastPosition();
  REQUIRE(p.ok());
  return *p;
}

// Appends and drops the answer, as a caller whose connection died between
// the commit and the reply would; waits only for the commit itself.
void AppendAndLoseTheAnswer(Store& s, StreamAppend request) {
  std::promise<void> committed;
  s.journal().Append(std::move(request), [&](Result<AppendResult> r) {
    CHECK_MESSAGE(r.ok(), r.status().ToString());
    committed.set_value();
  });
  committed.get_future().wait();
}

StreamAppend Request(const std::string& stream, Expected e,
                     std::vector<EventData> events) {
  StreamAppend r;
  r.stream = stream;
  r.expected = e;
  r.events = std::move(events);
  return r;
}

StoreOptions Options(size_t flush = 65536) {
  StoreOptions o = test::FastStore();
  o.index_flush_events = flush;
  return o;
}

}  // namespace

TEST_CASE(
    "a retry after a lost acknowledgement returns the original seqs and "
    "writes nothing, for Any, Exists and exact expectations, also after a "
    "restart") {
  test::TempDir dir;
  // Indexed (flush every event) and in the unindexed tail.
  for (size_t flush : {size_t{1}, size_t{65536}}) {
    CAPTURE(flush);
    const std::string path = dir.Sub("s" + std::to_string(flush));
    auto store = test::OpenStoreOrFail(path, Options(flush));
    // (The store is reopened below: no reference to its journal is kept.)
    REQUIRE(store->journal().Append("acct", Expected::Any(), Plain(2)).ok());
    // The lost answer: seqs 3 and 4, positions 3 and 4.
    AppendAndLoseTheAnswer(*store,
                           Request("acct", Expected::At(2), WithIds(10, 2)));
    const uint64_t log_end = LogEnd(*store);
    for (int restart = 0; restart < 2; ++restart) {
      CAPTURE(restart);
      for (Expected e :
           {Expected::Any(), Expected::Exists(), Expected::At(2)}) {
        auto again = store->journal().Append("acct", e, WithIds(10, 2));
        REQUIRE_MESSAGE(again.ok(), again.status().ToString());
        CHECK(again->first_seq == 3);
        CHECK(again->last_seq == 4);
        CHECK(again->first_position == 3);
        CHECK(again->last_position == 4);
        CHECK(HeadOf(*store, "acct") == 4);
        CHECK(LogEnd(*store) == log_end);
      }
      store.reset();
      store = test::OpenStoreOrFail(path, Options(flush));
    }
    // The stream goes on as usual after the repeats.
    auto next = store->journal().Append("acct", Expected::At(4), Plain(1));
    REQUIRE(next.ok());
    CHECK(next->first_seq == 5);
  }
}

TEST_CASE(
    "a repeat is recognised after other streams and later events of the "
    "same stream were appended") {
  test::TempDir dir;
  auto store = test::OpenStoreOrFail(dir.path(), Options());
  Journal& j = store->journal();
  auto first = j.Append("a", Expected::NoStream(), WithIds(1, 3));
  REQUIRE(first.ok());
  REQUIRE(j.Append("b", Expected::Any(), Plain(5)).ok());
  REQUIRE(j.Append("a", Expected::At(3), WithIds(4, 2)).ok());
  // The first request, retried with its original expectation and with Any.
  for (Expected e : {Expected::NoStream(), Expected::Any()}) {
    auto again = j.Append("a", e, WithIds(1, 3));
    REQUIRE_MESSAGE(again.ok(), again.status().ToString());
    CHECK(again->first_seq == 1);
    CHECK(again->last_seq == 3);
    CHECK(again->first_position == first->first_position);
    CHECK(again->last_position == first->last_position);
  }
  CHECK(HeadOf(*store, "a") == 5);
}

TEST_CASE(
    "a retry that partly overlaps stored events is refused and writes "
    "nothing") {
  test::TempDir dir;
  auto store = test::OpenStoreOrFail(dir.path(), Options());
  Journal& j = store->journal();
  REQUIRE(j.Append("acct", Expected::NoStream(), WithIds(1, 2)).ok());
  const uint64_t log_end = LogEnd(*store);
  struct Case {
    const char* what;
    Expected expected;
    std::vector<EventData> events;
  };
  std::vector<EventData> longer = WithIds(1, 3);   // ids 1, 2 and a new 3
  std::vector<EventData> shifted = WithIds(0, 2);  // a new 0, then 1
  std::vector<EventData> changed = WithIds(1, 2);
  changed[1].id = Id(99);  // 1 as stored, then a new one
  for (const Case& c :
       {Case{"longer, Any", Expected::Any(), longer},
        Case{"longer, exact", Expected::NoStream(), longer},
        Case{"shifted, Any", Expected::Any(), shifted},
        Case{"changed, Any", Expected::Any(), changed},
        Case{"changed, exact", Expected::NoStream(), changed}}) {
    CAPTURE(c.what);
    auto r = j.Append("acct", c.expected, c.events);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kConflict);
    CHECK(r.status().message().find("repeats part of what is stored") !=
          std::string::npos);
    CHECK(r.status().actual_seq() == 2);
    CHECK(HeadOf(*store, "acct") == 2);
    CHECK(LogEnd(*store) == log_end);
  }
  // Entirely new ids are appended.
  auto fresh = j.Append("acct", Expected::Any(), WithIds(50, 2));
  REQUIRE(fresh.ok());
  CHECK(fresh->first_seq == 3);
}

TEST_CASE(
    "an exact expectation whose seqs hold other ids is a plain "
    "conflict") {
  test::TempDir dir;
  auto store = test::OpenStoreOrFail(dir.path(), Options());
  Journal& j = store->journal();
  REQUIRE(j.Append("acct", Expected::NoStream(), WithIds(1, 2)).ok());
  auto r = j.Append("acct", Expected::NoStream(), WithIds(7, 2));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kConflict);
  CHECK(r.status().message().find("repeats") == std::string::npos);
  CHECK(r.status().actual_seq() == 2);
}

TEST_CASE(
    "a multi-stream append is a repeat only when every stream holds "
    "its part") {
  test::TempDir dir;
  auto store = test::OpenStoreOrFail(dir.path(), Options());
  Journal& j = store->journal();
  auto original =
      j.AppendMulti({Request("from", Expected::NoStream(), WithIds(1, 1)),
                     Request("to", Expected::NoStream(), WithIds(2, 1))});
  REQUIRE(original.ok());
  const uint64_t log_end = LogEnd(*store);
  auto again = j.AppendMulti({Request("from", Expected::Any(), WithIds(1, 1)),
                              Request("to", Expected::Any(), WithIds(2, 1))});
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  REQUIRE(again->size() == 2);
  CHECK((*again)[0].first_position == (*original)[0].first_position);
  CHECK((*again)[1].first_position == (*original)[1].first_position);
  CHECK(LogEnd(*store) == log_end);
  // One stream repeated, the other new: refused, nothing written.
  auto mixed = j.AppendMulti({Request("from", Expected::Any(), WithIds(1, 1)),
                              Request("to", Expected::Any(), WithIds(3, 1))});
  REQUIRE_FALSE(mixed.ok());
  CHECK(mixed.status().code() == Status::Code::kConflict);
  CHECK(mixed.status().message().find("1 of the 2 streams") !=
        std::string::npos);
  CHECK(LogEnd(*store) == log_end);
}

TEST_CASE(
    "Any finds a repeat only within the idempotency window; an exact "
    "expectation finds it in the whole history") {
  test::TempDir dir;
  StoreOptions o = Options();
  o.idempotency_window = 4;
  auto store = test::OpenStoreOrFail(dir.path(), o);
  Journal& j = store->journal();
  REQUIRE(j.Append("acct", Expected::NoStream(), WithIds(1, 1)).ok());
  REQUIRE(j.Append("acct", Expected::Any(), Plain(4)).ok());  // seqs 2-5
  // Seq 1 is now 5 events back, outside a window of 4.
  auto exact = j.Append("acct", Expected::NoStream(), WithIds(1, 1));
  REQUIRE_MESSAGE(exact.ok(), exact.status().ToString());
  CHECK(exact->first_seq == 1);
  CHECK(HeadOf(*store, "acct") == 5);
  auto any = j.Append("acct", Expected::Any(), WithIds(1, 1));
  REQUIRE(any.ok());
  CHECK(any->first_seq == 6);  // documented: appended again
  // Within the window (seq 6 is the newest), Any finds it.
  auto inside = j.Append("acct", Expected::Any(), WithIds(1, 1));
  REQUIRE(inside.ok());
  CHECK(inside->first_seq == 6);
  CHECK(HeadOf(*store, "acct") == 6);
}

TEST_CASE(
    "an id stored twice: a retry repeats the newest append, not the "
    "oldest") {
  test::TempDir dir;
  StoreOptions o = Options();
  o.idempotency_window = 4;
  {
    auto store = test::OpenStoreOrFail(dir.path(), o);
    Journal& j = store->journal();
    REQUIRE(j.Append("acct", Expected::NoStream(), WithIds(1, 1)).ok());
    REQUIRE(j.Append("acct", Expected::Any(), Plain(4)).ok());  // seqs 2-5
    // Id 1 is past the window: stored again, with id 2, at seqs 6 and 7.
    auto again = j.Append("acct", Expected::Any(), WithIds(1, 2));
    REQUIRE(again.ok());
    CHECK(again->first_seq == 6);
  }
  // A window that holds both copies of id 1.
  o.idempotency_window = 16;
  auto store = test::OpenStoreOrFail(dir.path(), o);
  auto retry = store->journal().Append("acct", Expected::Any(), WithIds(1, 2));
  REQUIRE_MESSAGE(retry.ok(), retry.status().ToString());
  CHECK(retry->first_seq == 6);
  CHECK(retry->last_seq == 7);
  CHECK(HeadOf(*store, "acct") == 7);
}

TEST_CASE("an idempotency window above the limit is refused at open") {
  test::TempDir dir;
  StoreOptions o = Options();
  o.idempotency_window = kMaxIdempotencyWindow + 1;
  auto store = Store::Open(test::StoreLocation(dir.path()), o);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == Status::Code::kInvalidArgument);
  CHECK(store.status().message().find("idempotency_window") !=
        std::string::npos);
}

TEST_CASE(
    "a window of 0 turns off repeats for Any but not for exact "
    "expectations") {
  test::TempDir dir;
  StoreOptions o = Options();
  o.idempotency_window = 0;
  auto store = test::OpenStoreOrFail(dir.path(), o);
  Journal& j = store->journal();
  REQUIRE(j.Append("acct", Expected::NoStream(), WithIds(1, 1)).ok());
  auto exact = j.Append("acct", Expected::NoStream(), WithIds(1, 1));
  REQUIRE(exact.ok());
  CHECK(exact->first_seq == 1);
  auto any = j.Append("acct", Expected::Any(), WithIds(1, 1));
  REQUIRE(any.ok());
  CHECK(any->first_seq == 2);
}

TEST_CASE(
    "deleted events are not repeats, and a repeat of a deleted stream "
    "is refused as deleted") {
  test::TempDir dir;
  auto store = test::OpenStoreOrFail(dir.path(), Options(1));
  Journal& j = store->journal();
  REQUIRE(j.Append("acct", Expected::NoStream(), WithIds(1, 2)).ok());
  // Load the window, then delete what it holds.
  REQUIRE(j.Append("acct", Expected::Any(), WithIds(1, 2)).ok());
  REQUIRE(j.DeleteTo("acct", 2).ok());
  auto any = j.Append("acct", Expected::Any(), WithIds(1, 2));
  REQUIRE(any.ok());
  CHECK(any->first_seq == 3);
  auto exact = j.Append("acct", Expected::NoStream(), WithIds(1, 2));
  REQUIRE_FALSE(exact.ok());
  CHECK(exact.status().code() == Status::Code::kConflict);
  REQUIRE(j.DeleteStream("acct").ok());
  auto gone = j.Append("acct", Expected::Any(), WithIds(1, 2));
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.status().code() == Status::Code::kStreamDeleted);
}

TEST_CASE(
    "requests mixing events with and without ids, or repeating an id, "
    "are refused before queueing") {
  test::TempDir dir;
  auto store = test::OpenStoreOrFail(dir.path(), Options());
  Journal& j = store->journal();
  std::vector<EventData> mixed = WithIds(1, 2);
  mixed[1].id = Uuid{};
  auto r = j.Append("acct", Expected::Any(), mixed);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  CHECK(r.status().message().find("every event of a request an id, or none") !=
        std::string::npos);
  std::vector<EventData> twice = WithIds(1, 2);
  twice[1].id = twice[0].id;
  r = j.Append("acct", Expected::Any(), twice);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  CHECK(r.status().message().find("repeats the id") != std::string::npos);
  std::vector<EventData> big = Plain(1);
  big[0].metadata.assign(kMaxMetadataBytes + 1, 'm');
  r = j.Append("acct", Expected::Any(), big);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  CHECK(r.status().message().find("metadata") != std::string::npos);
  CHECK(j.GetStream("acct").status().code() == Status::Code::kNotFound);
}

TEST_CASE(
    "ids, causation, correlation and metadata round-trip through every "
    "read, indexed or not") {
  test::TempDir dir;
  for (size_t flush : {size_t{1}, size_t{65536}}) {
    CAPTURE(flush);
    const std::string path = dir.Sub("s" + std::to_string(flush));
    auto store = test::OpenStoreOrFail(path, Options(flush));
    // (The store is reopened below: no reference to its journal is kept.)
    std::vector<EventData> events(4);
    for (size_t i = 0; i < events.size(); ++i) {
      events[i].type = "T" + std::to_string(i);
      events[i].payload = std::string(i * 7, 'p');
      events[i].id = Uuid::Generate();
    }
    events[0].causation_id = Uuid::Generate();
    events[1].correlation_id = Uuid::Generate();
    events[2].metadata = std::string("\0user=7", 7);
    events[3].tags = {"t1", "t2"};
    events[3].metadata = "m";
    events[3].causation_id = events[0].id;
    events[3].correlation_id = events[1].correlation_id;
    REQUIRE(store->journal().Append("s", Expected::Any(), events).ok());
    REQUIRE(store->journal().Append("s", Expected::Any(), Plain(1)).ok());
    auto check = [&](const std::vector<RecordedEvent>& got) {
      REQUIRE(got.size() == 5);
      for (size_t i = 0; i < events.size(); ++i) {
        CAPTURE(i);
        CHECK(got[i].type == events[i].type);
        CHECK(got[i].payload == events[i].payload);
        CHECK(got[i].id == events[i].id);
        CHECK(got[i].causation_id == events[i].causation_id);
        CHECK(got[i].correlation_id == events[i].correlation_id);
        CHECK(got[i].metadata == events[i].metadata);
        CHECK(got[i].tags == events[i].tags);
      }
      CHECK(got[4].id.empty());
      CHECK(got[4].metadata.empty());
    };
    for (int restart = 0; restart < 2; ++restart) {
      auto stream = store->journal().Read("s");
      REQUIRE(stream.ok());
      check(*stream);
      auto all = store->journal().ReadAll(0, 100);
      REQUIRE(all.ok());
      check(*all);
      auto tagged = store->journal().ReadTag("t1", 0, 100);
      REQUIRE(tagged.ok());
      REQUIRE(tagged->size() == 1);
      CHECK(tagged->front().metadata == "m");
      CHECK(tagged->front().causation_id == events[0].id);
      store.reset();
      store = test::OpenStoreOrFail(path, Options(flush));
    }
  }
}

TEST_CASE("generate_event_ids gives each event a new version 7 id") {
  test::TempDir dir;
  StoreOptions o = Options();
  o.generate_event_ids = true;
  auto store = test::OpenStoreOrFail(dir.path(), o);
  Journal& j = store->journal();
  REQUIRE(j.Append("a", Expected::Any(), Plain(3)).ok());
  REQUIRE(j.AppendMulti({Request("b", Expected::Any(), Plain(2)),
                         Request("a", Expected::Any(), WithIds(1, 1))})
              .ok());
  auto all = j.ReadAll(0, 100);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 6);
  std::set<Uuid> seen;
  for (const RecordedEvent& e : *all) {
    CHECK_FALSE(e.id.empty());
    seen.insert(e.id);
  }
  CHECK(seen.size() == 6);
  CHECK(all->back().id == Id(1));  // a caller's id is kept
  CHECK(((*all)[0].id.hi >> 12 & 0xf) == 7);
}

TEST_CASE("uuids parse and print in the 36-character form") {
  const Uuid u{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  CHECK(u.ToString() == "01234567-89ab-cdef-fedc-ba9876543210");
  CHECK(Uuid::Parse("01234567-89AB-cdef-FEDC-ba9876543210") == u);
  CHECK_FALSE(Uuid::Parse("01234567-89ab-cdef-fedc-ba987654321").has_value());
  CHECK_FALSE(Uuid::Parse("0123456789ab-cdef-fedc-ba9876543210-").has_value());
  CHECK_FALSE(Uuid::Parse("01234567-89ab-cdef-fedc-ba987654321g").has_value());
  CHECK(Uuid{}.empty());
  CHECK(Uuid{}.ToString() == "00000000-0000-0000-0000-000000000000");
  // Generated ids are version 7, variant 10, distinct and in order.
  Uuid a = Uuid::Generate();
  Uuid b = Uuid::Generate();
  CHECK(a != b);
  CHECK((a.hi >> 12 & 0xf) == 7);
  CHECK((a.lo >> 62) == 2);
  CHECK(a < b);  // one thread's ids sort in generation order
  // A forked child draws other ids than its parent.
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const Uuid mine = Uuid::Generate();
    const ssize_t n = write(fds[1], &mine, sizeof mine);
    _exit(n == sizeof mine ? 0 : 1);
  }
  const Uuid parents = Uuid::Generate();
  Uuid childs;
  REQUIRE(read(fds[0], &childs, sizeof childs) == sizeof childs);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  close(fds[0]);
  close(fds[1]);
  CHECK(childs.lo != parents.lo);
}

TEST_CASE(
    "a retried AppendWithSnapshot returns the original result and writes "
    "nothing, not even its snapshot") {
  test::TempDir dir;
  auto store = test::OpenStoreOrFail(dir.Sub("store"), test::FastStore());
  auto first = store->snapshots().AppendWithSnapshot(
      Request("acct", Expected::Any(), WithIds(1, 2)),
      SnapshotData{"State", 1, "after two", {}});
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  const uint64_t end = LogEnd(*store);
  // The same events again, with a snapshot that differs.
  auto again = store->snapshots().AppendWithSnapshot(
      Request("acct", Expected::Any(), WithIds(1, 2)),
      SnapshotData{"State", 1, "something else", {}});
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  CHECK(again->first_seq == first->first_seq);
  CHECK(again->last_seq == first->last_seq);
  CHECK(again->last_position == first->last_position);
  CHECK(LogEnd(*store) == end);
  auto snap = store->snapshots().LoadLatest("acct");
  REQUIRE(snap.ok());
  REQUIRE(snap->snapshot.has_value());
  CHECK(snap->snapshot->payload == "after two");
  // A new append with a snapshot still saves it.
  auto next = store->snapshots().AppendWithSnapshot(
      Request("acct", Expected::Any(), WithIds(3, 1)),
      SnapshotData{"State", 1, "after three", {}});
  REQUIRE(next.ok());
  snap = store->snapshots().LoadLatest("acct");
  REQUIRE(snap.ok());
  CHECK(snap->snapshot->info.seq == 3);
  CHECK(snap->snapshot->payload == "after three");
}

TEST_CASE("AppendWithSnapshot gives events ids with generate_event_ids") {
  test::TempDir dir;
  StoreOptions o = test::FastStore();
  o.generate_event_ids = true;
  auto store = test::OpenStoreOrFail(dir.Sub("store"), o);
  REQUIRE(store->snapshots()
              .AppendWithSnapshot(Request("acct", Expected::Any(), Plain(2)),
                                  SnapshotData{"State", 1, "s", {}})
              .ok());
  auto events = store->journal().Read("acct");
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  CHECK_FALSE((*events)[0].id.empty());
  CHECK_FALSE((*events)[1].id.empty());
  CHECK((*events)[0].id != (*events)[1].id);
}

}  // namespace memoir

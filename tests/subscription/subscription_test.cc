// Subscriptions (memoir/subscription.h), in-store checkpoints
// (memoir/checkpoint_store.h) and Journal::WaitForCommit. Failure paths
// first. Every wait has a deadline of minutes that fails the test rather
// than hanging it; none decides an outcome by elapsed time.
#include "memoir/subscription.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "memoir/checkpoint_store.h"
#include "memoir/store.h"
#include "support/open_store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

using namespace std::chrono_literals;
using test::FastStore;
using test::OpenStoreOrFail;

constexpr auto kLongWait = std::chrono::minutes(2);

EventData Event(std::string type, std::vector<std::string> tags = {}) {
  EventData e;
  e.type = std::move(type);
  e.payload = "p";
  e.tags = std::move(tags);
  return e;
}

uint64_t AppendOne(Store& store, const std::string& stream,
                   const std::string& type = "T") {
  auto r = store.journal().Append(stream, Expected::Any(), {Event(type)});
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return r->last_position;
}

// What a handler saw: positions in delivery order, and per stream the seqs.
struct Seen {
  std::mutex mu;
  std::vector<uint64_t> positions;
  std::map<std::string, std::vector<uint64_t>> seqs;
  Subscription::Handler Handler() {
    return [this](const Batch& b) {
      std::lock_guard<std::mutex> lock(mu);
      for (const EventView& e : b.events) {
        positions.push_back(e.position);
        seqs[std::string(e.stream)].push_back(e.seq);
      }
      return Status::OK();
    };
  }
  std::vector<uint64_t> Positions() {
    std::lock_guard<std::mutex> lock(mu);
    return positions;
  }
};

std::unique_ptr<Subscription> StartOrFail(Store& store,
                                          const SubscriptionOptions& o,
                                          Subscription::Handler h) {
  auto sub = Subscription::Start(store, o, std::move(h));
  REQUIRE_MESSAGE(sub.ok(), sub.status().ToString());
  return std::move(sub).value();
}

// ScanAll with the filter applied: what a subscription must deliver.
std::vector<uint64_t> Expected(Store& store, const EventFilter& filter,
                               uint64_t after = 0) {
  std::vector<uint64_t> out;
  REQUIRE(store.journal()
              .ScanAll(after + 1, kMaxSeq,
                       [&](const EventView& e) {
                         if (filter.Matches(e)) out.push_back(e.position);
                         return true;
                       })
              .ok());
  return out;
}

TEST_CASE(
    "Start refuses a bad name, an empty batch, a missing partition and "
    "a null handler") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  Seen seen;
  SubscriptionOptions o;
  CHECK(Subscription::Start(*store, o, seen.Handler())
            .status()
            .IsInvalidArgument());
  o.name = "s";
  o.max_batch = 0;
  CHECK(Subscription::Start(*store, o, seen.Handler())
            .status()
            .IsInvalidArgument());
  o.max_batch = 10;
  o.filter.partitions = 2;
  o.filter.partition = 2;
  auto bad = Subscription::Start(*store, o, seen.Handler());
  CHECK(bad.status().IsInvalidArgument());
  CHECK(bad.status().ToString().find("partition 2 of 2") != std::string::npos);
  o.filter.partition = 0;
  CHECK(Subscription::Start(*store, o, nullptr).status().IsInvalidArgument());
}

TEST_CASE(
    "a handler that keeps failing on one event is retried, then stops "
    "the subscription naming the position, stream and seq") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  for (int i = 0; i < 5; ++i) AppendOne(*store, "a");
  const uint64_t poison = AppendOne(*store, "b", "Poison");
  for (int i = 0; i < 5; ++i) AppendOne(*store, "a");
  std::atomic<int> poison_calls{0};
  Seen seen;
  auto inner = seen.Handler();
  SubscriptionOptions o;
  o.name = "s";
  o.on_failure.retries = 2;
  o.on_failure.backoff_initial = 1ms;
  auto sub = StartOrFail(*store, o, [&](const Batch& b) {
    for (const EventView& e : b.events) {
      if (e.type == "Poison") {
        ++poison_calls;
        return Status::Failed("cannot apply Poison");
      }
    }
    return inner(b);
  });
  Status waited = sub->WaitFor(poison, kLongWait);
  CHECK(waited.IsFailed());
  SubscriptionStats stats = sub->Stats();
  CHECK(stats.state == SubscriptionStats::State::kStopped);
  const std::string cause = stats.cause.ToString();
  CHECK(cause.find("subscription 's' stopped at position " +
                   std::to_string(poison)) != std::string::npos);
  CHECK(cause.find("stream 'b' seq 1") != std::string::npos);
  CHECK(cause.find("cannot apply Poison") != std::string::npos);
  CHECK(poison_calls.load() == 1 + 1 + 2);  // the batch, then 1 + 2 retries
  CHECK(stats.retries == 2);
  CHECK(stats.scanned_to == poison - 1);
  // Everything before the poison event was delivered, nothing after it.
  std::vector<uint64_t> got = seen.Positions();
  std::set<uint64_t> unique(got.begin(), got.end());
  CHECK(unique.size() == 5);
  CHECK(*unique.rbegin() == poison - 1);
  CHECK(sub->Stop().ok());
}

TEST_CASE("a handler that throws is a failure like a returned error") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  const uint64_t p = AppendOne(*store, "a");
  SubscriptionOptions o;
  o.name = "s";
  o.on_failure.retries = 0;
  auto sub = StartOrFail(*store, o, [](const Batch&) -> Status {
    throw std::runtime_error("boom");
  });
  CHECK(sub->WaitFor(p, kLongWait).IsFailed());
  CHECK(sub->Stats().cause.ToString().find("threw: boom") != std::string::npos);
}

TEST_CASE(
    "with OnFailure::kSkip the failing event is skipped, counted, and "
    "the rest delivered") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  for (int i = 0; i < 3; ++i) AppendOne(*store, "a");
  const uint64_t poison = AppendOne(*store, "a", "Poison");
  uint64_t last = 0;
  for (int i = 0; i < 3; ++i) last = AppendOne(*store, "a");
  Seen seen;
  auto inner = seen.Handler();
  SubscriptionOptions o;
  o.name = "s";
  o.on_failure.retries = 1;
  o.on_failure.backoff_initial = 1ms;
  o.on_failure.then = OnFailure::kSkip;
  auto sub = StartOrFail(*store, o, [&](const Batch& b) {
    for (const EventView& e : b.events) {
      if (e.type == "Poison") return Status::Failed("no");
    }
    return inner(b);
  });
  REQUIRE(sub->WaitFor(last, kLongWait).ok());
  SubscriptionStats stats = sub->Stats();
  CHECK(stats.skipped == 1);
  std::vector<uint64_t> got = seen.Positions();
  std::set<uint64_t> unique(got.begin(), got.end());
  CHECK(unique.size() == 6);
  CHECK(unique.count(poison) == 0);
  CHECK(stats.state == SubscriptionStats::State::kLive);
}

TEST_CASE(
    "a read-only store's checkpoints load but refuse to save, and a "
    "damaged checkpoint record is corruption naming it" *
    doctest::test_suite("lmdb")) {
  test::TempDir dir;
  {
    auto store = OpenStoreOrFail(dir.path(), FastStore());
    auto cps = InStoreCheckpoints(*store).value();
    CHECK(cps->Load("x").value() == 0);
    REQUIRE(cps->Save("x", 42).ok());
    REQUIRE(cps->Save("y", 7).ok());
    CHECK(cps->Save("", 1).IsInvalidArgument());
  }
  {
    auto store = test::OpenReadOnlyOrFail(dir.path());
    auto cps = InStoreCheckpoints(*store).value();
    CHECK(cps->Load("x").value() == 42);
    Status refused = cps->Save("x", 43);
    CHECK(refused.IsInvalidArgument());
    CHECK(refused.ToString().find("read-only") != std::string::npos);
  }
  REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
            auto* txn = static_cast<MDB_txn*>(raw.txn);
            MDB_dbi dbi = raw.dbi("checkpoints");
            std::string key = "x", value = "short";
            MDB_val k{key.size(), key.data()};
            MDB_val v{value.size(), value.data()};
            REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
          }) == 0);
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto cps = InStoreCheckpoints(*store).value();
  auto damaged = cps->Load("x");
  CHECK(damaged.status().IsCorruption());
  CHECK(damaged.status().ToString().find("checkpoint 'x'") !=
        std::string::npos);
  CHECK(cps->Load("y").value() == 7);  // the others are intact
  // A subscription does not start over a damaged checkpoint.
  SubscriptionOptions o;
  o.name = "x";
  o.checkpoints = cps.get();
  Seen seen;
  CHECK(Subscription::Start(*store, o, seen.Handler()).status().IsCorruption());
  // Saving again repairs it.
  REQUIRE(cps->Save("x", 5).ok());
  CHECK(cps->Load("x").value() == 5);
}

TEST_CASE(
    "saving a checkpoint in a closed store is refused with kClosed "
    "naming the checkpoint, and what was saved stays" *
    doctest::test_suite("lmdb")) {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto cps = InStoreCheckpoints(*store).value();
  REQUIRE(cps->Save("kept", 9).ok());
  REQUIRE(store->Close().ok());
  Status refused = cps->Save("kept", 10);
  CHECK(refused.IsClosed());
  CHECK(refused.ToString().find("saving checkpoint 'kept'") !=
        std::string::npos);
  store.reset();
  auto reopened = OpenStoreOrFail(dir.path(), FastStore());
  CHECK(InStoreCheckpoints(*reopened).value()->Load("kept").value() == 9);
}

TEST_CASE(
    "WaitForCommit wakes on a commit and returns the position; it "
    "times out without one") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  const uint64_t first = AppendOne(*store, "a");
  auto none = store->journal().WaitForCommit(first, 0ms);
  REQUIRE(none.ok());
  CHECK(*none == first);
  std::atomic<uint64_t> woke{0};
  std::thread waiter([&] {
    auto r = store->journal().WaitForCommit(first, kLongWait);
    if (r.ok()) woke = *r;
  });
  const uint64_t second = AppendOne(*store, "a");
  waiter.join();
  CHECK(woke.load() == second);
}

// A writer in a child process: opens the store, appends one event, then
// one more for each byte read from its command pipe, and acknowledges each
// with a byte; exits when the pipe closes.
struct WriterChild {
  pid_t pid = -1;
  int commands = -1, acks = -1;

  static WriterChild Start(const std::string& dir) {
    int to_child[2], to_parent[2];
    REQUIRE(pipe(to_child) == 0);
    REQUIRE(pipe(to_parent) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(to_child[1]);
      close(to_parent[0]);
      auto store = Store::Open(dir, FastStore());
      if (!store.ok()) _exit(2);
      char c = 0;
      do {
        auto r = (*store)->journal().Append("remote", Expected::Any(),
                                            {Event("Remote")});
        if (!r.ok() || write(to_parent[1], "a", 1) != 1) _exit(3);
      } while (read(to_child[0], &c, 1) == 1);
      _exit((*store)->Close().ok() ? 0 : 4);
    }
    close(to_child[0]);
    close(to_parent[1]);
    WriterChild w{pid, to_child[1], to_parent[0]};
    w.AwaitAck();
    return w;
  }
  void AwaitAck() {
    char c = 0;
    REQUIRE(read(acks, &c, 1) == 1);
  }
  void AppendOne() {
    REQUIRE(write(commands, "x", 1) == 1);
    AwaitAck();
  }
  void Kill() {
    kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    close(commands);
    close(acks);
  }
};

TEST_CASE(
    "a read-only process wakes on another process's commits, also "
    "after the notify file is deleted, replaced by a foreign file or "
    "left by a killed writer" *
    doctest::test_suite("lmdb")) {
  test::TempDir dir;
  const std::string notify = dir.path() + "/memoir.notify";
  WriterChild a = WriterChild::Start(dir.path());
  struct stat st;
  REQUIRE(stat(notify.c_str(), &st) == 0);
  auto reader = test::OpenReadOnlyOrFail(dir.path());
  Journal& j = reader->journal();
  REQUIRE(j.WaitForCommit(0, 0ms).value() == 1);
  Seen seen;
  SubscriptionOptions o;
  o.name = "follower";
  auto sub = StartOrFail(*reader, o, seen.Handler());

  a.AppendOne();  // healthy: the futex wakes this process
  CHECK(j.WaitForCommit(1, kLongWait).value() == 2);

  REQUIRE(unlink(notify.c_str()) == 0);  // deleted: polling
  a.AppendOne();
  CHECK(j.WaitForCommit(2, kLongWait).value() == 3);

  {  // a foreign file in its place: polling
    FILE* f = fopen(notify.c_str(), "w");
    REQUIRE(f != nullptr);
    std::string junk(4096, 'j');
    REQUIRE(fwrite(junk.data(), 1, junk.size(), f) == junk.size());
    REQUIRE(fclose(f) == 0);
  }
  a.AppendOne();
  CHECK(j.WaitForCommit(3, kLongWait).value() == 4);

  REQUIRE(sub->WaitFor(4, kLongWait).ok());
  // Fork the next writer from a single-threaded process (ThreadSanitizer
  // refuses threads in the child of a multi-threaded fork).
  REQUIRE(sub->Stop().ok());

  a.Kill();  // a dead writer; a new one takes the file over
  CHECK(j.WaitForCommit(4, 50ms).value() == 4);  // times out, no hang
  WriterChild b = WriterChild::Start(dir.path());
  CHECK(j.WaitForCommit(4, kLongWait).value() == 5);
  o.start = StartAt::After(4);
  sub = StartOrFail(*reader, o, seen.Handler());
  b.AppendOne();
  CHECK(j.WaitForCommit(5, kLongWait).value() == 6);

  REQUIRE(sub->WaitFor(6, kLongWait).ok());
  CHECK(seen.Positions() == std::vector<uint64_t>{1, 2, 3, 4, 5, 6});
  REQUIRE(sub->Stop().ok());
  b.Kill();
}

// A WaitForCommit on its own thread, with a cancel flag, that waits up to
// twice kLongWait: a wait that Wake fails to end fails the test at kLongWait.
struct CancellableWait {
  std::atomic<bool> cancel{false};
  std::promise<uint64_t> result;
  std::future<uint64_t> future = result.get_future();
  std::thread thread;

  CancellableWait(Journal& j, uint64_t after) {
    thread = std::thread([this, &j, after] {
      auto r = j.WaitForCommit(after, 2 * kLongWait, &cancel);
      result.set_value(r.ok() ? *r : 0);
    });
  }
  ~CancellableWait() { thread.join(); }
  // The position it returned, or fails the test at kLongWait.
  uint64_t Get() {
    REQUIRE(future.wait_for(kLongWait) == std::future_status::ready);
    return future.get();
  }
};

// Cancels one waiter and checks that it ends with the position as it is,
// while the other, its flag clear, waits on for `commit`'s event. (A
// read-only waiter also looks at its flag every 10 or 100 ms, so there the
// cancel would pass without its wake-up; storage/commit_signal_test.cc
// checks those wake-ups on their own.)
void CheckCancel(Journal& j, uint64_t head,
                 const std::function<void()>& commit) {
  CancellableWait cancelled(j, head), waiting(j, head);
  cancelled.cancel = true;
  j.WakeCommitWaiters();
  CHECK(cancelled.Get() == head);
  commit();
  CHECK(waiting.Get() == head + 1);
}

TEST_CASE(
    "WakeCommitWaiters ends the waits whose cancel flag is set, and only "
    "those, in the owning process and in a read-only one with and without "
    "a notify file" *
    doctest::test_suite("lmdb")) {
  test::TempDir dir;
  // The writer child first: fork before this process starts threads.
  WriterChild child = WriterChild::Start(dir.path());
  const std::string notify = dir.path() + "/memoir.notify";
  {
    auto reader = test::OpenReadOnlyOrFail(dir.path());
    Journal& j = reader->journal();
    REQUIRE(j.WaitForCommit(0, 0ms).value() == 1);
    CheckCancel(j, 1, [&] { child.AppendOne(); });
    REQUIRE(unlink(notify.c_str()) == 0);  // no file: the polling path
    CheckCancel(j, 2, [&] { child.AppendOne(); });
  }
  child.Kill();
  auto owner = OpenStoreOrFail(dir.path(), FastStore());
  Journal& j = owner->journal();
  const uint64_t head = j.LastPosition().value();
  CheckCancel(j, head, [&] { AppendOne(*owner, "local"); });
}

TEST_CASE(
    "Stop ends a live subscription's wait for commits at once, not after "
    "its safety poll") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  AppendOne(*store, "a");
  SubscriptionOptions o;
  o.name = "idle";
  o.safety_poll = 2 * kLongWait;  // a Stop that waited it out fails below
  Seen seen;
  auto sub = StartOrFail(*store, o, seen.Handler());
  REQUIRE(sub->WaitFor(1, kLongWait).ok());
  auto stopped = std::async(std::launch::async, [&] { return sub->Stop(); });
  REQUIRE(stopped.wait_for(kLongWait) == std::future_status::ready);
  CHECK(stopped.get().ok());
}

TEST_CASE(
    "the batches delivered equal ScanAll plus the filter, in order and "
    "without duplicates, while 64 threads append, views or copies") {
  bool zero_copy = true;
  SUBCASE("views into the read") {}
  SUBCASE("copies") { zero_copy = false; }
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  SubscriptionOptions o;
  o.name = "accounts";
  o.zero_copy = zero_copy;
  o.filter.stream_prefixes = {"acct-"};
  o.filter.types = {"Deposited", "Withdrawn"};
  o.max_batch = 37;  // batches that do not line up with the appends
  Seen seen;
  std::atomic<bool> out_of_order{false};
  uint64_t last_seen = 0;
  auto inner = seen.Handler();
  auto sub = StartOrFail(*store, o, [&](const Batch& b) {
    for (const EventView& e : b.events) {
      if (e.position <= last_seen) out_of_order = true;
      last_seen = e.position;
    }
    if (b.scanned_to < last_seen) out_of_order = true;
    return inner(b);
  });
  constexpr int kThreads = 64, kAppends = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      const char* types[] = {"Deposited", "Withdrawn", "Renamed"};
      for (int i = 0; i < kAppends; ++i) {
        std::string stream =
            (rng() % 3 ? "acct-" : "other-") + std::to_string(rng() % 50);
        std::vector<EventData> events;
        for (uint32_t n = 1 + rng() % 4; n > 0; --n) {
          events.push_back(Event(types[rng() % 3]));
        }
        auto r =
            store->journal().Append(stream, Expected::Any(), std::move(events));
        REQUIRE(r.ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  const uint64_t head = store->journal().LastPosition().value();
  REQUIRE(sub->WaitFor(head, kLongWait).ok());
  REQUIRE(sub->Stop().ok());
  CHECK_FALSE(out_of_order.load());
  std::vector<uint64_t> want = Expected(*store, o.filter);
  CHECK(want.size() > 100);
  CHECK(seen.Positions() == want);
  SubscriptionStats stats = sub->Stats();
  CHECK(stats.scanned_to == head);
  CHECK(stats.lag_events == 0);
  CHECK(stats.delivered == want.size());
}

TEST_CASE(
    "delivered events equal ScanAll's field for field, with payloads "
    "from empty to larger than a batch buffer's chunk, tags, and payloads "
    "16-byte aligned, views into the read or copies") {
  bool zero_copy = true;
  SUBCASE("views into the read") {}
  SUBCASE("copies") { zero_copy = false; }
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  const size_t sizes[] = {0, 1, 7, 100, 4096, 70'000, 200'000, 3};
  std::mt19937 rng(7);
  for (int i = 0; i < 40; ++i) {
    EventData e;
    e.type = i % 3 == 0 ? "Opened" : "Deposited-with-a-long-type-name";
    e.schema_version = uint32_t(i % 4);
    e.payload.resize(sizes[i % std::size(sizes)]);
    for (char& c : e.payload) c = char(rng());
    if (i % 2 == 0) e.tags = {"tag-a", "t" + std::to_string(i)};
    auto r = store->journal().Append("stream-" + std::to_string(i % 5),
                                     Expected::Any(), {e});
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  }
  std::vector<RecordedEvent> want;
  REQUIRE(store->journal()
              .ScanAll(1, kMaxSeq,
                       [&](const EventView& e) {
                         want.push_back(RecordedEvent::From(e));
                         return true;
                       })
              .ok());
  REQUIRE(want.size() == 40);
  std::mutex mu;
  std::vector<RecordedEvent> got;
  bool aligned = true;
  SubscriptionOptions o;
  o.name = "fields";
  o.zero_copy = zero_copy;
  o.max_batch = 6;  // several chunks' worth in some batches, one in others
  auto sub = StartOrFail(*store, o, [&](const Batch& b) {
    std::lock_guard<std::mutex> lock(mu);
    for (const EventView& e : b.events) {
      if (!e.payload.empty() &&
          reinterpret_cast<uintptr_t>(e.payload.data()) % 16 != 0) {
        aligned = false;
      }
      got.push_back(RecordedEvent::From(e));
    }
    return Status::OK();
  });
  REQUIRE(sub->WaitFor(40, kLongWait).ok());
  REQUIRE(sub->Stop().ok());
  std::lock_guard<std::mutex> lock(mu);
  CHECK(aligned);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].stream == want[i].stream);
    CHECK(got[i].seq == want[i].seq);
    CHECK(got[i].position == want[i].position);
    CHECK(got[i].timestamp_ns == want[i].timestamp_ns);
    CHECK(got[i].type == want[i].type);
    CHECK(got[i].schema_version == want[i].schema_version);
    CHECK(got[i].payload == want[i].payload);
    CHECK(got[i].tags == want[i].tags);
  }
}

TEST_CASE("a restarted subscription resumes after its saved checkpoint" *
          doctest::test_suite("lmdb")) {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto cps = InStoreCheckpoints(*store).value();
  for (int i = 0; i < 50; ++i) AppendOne(*store, "s-" + std::to_string(i % 7));
  SubscriptionOptions o;
  o.name = "resume";
  o.checkpoints = cps.get();
  o.max_batch = 8;
  o.checkpoint_every_events = 16;
  Seen first;
  {
    auto sub = StartOrFail(*store, o, first.Handler());
    REQUIRE(sub->WaitFor(50, kLongWait).ok());
    REQUIRE(sub->Stop().ok());
    CHECK(sub->Stats().checkpoint == 50);
  }
  CHECK(cps->Load("resume").value() == 50);
  for (int i = 0; i < 30; ++i) AppendOne(*store, "s-" + std::to_string(i % 7));
  Seen second;
  o.start = StartAt::Origin();  // ignored: the checkpoint wins
  auto sub = StartOrFail(*store, o, second.Handler());
  REQUIRE(sub->WaitFor(80, kLongWait).ok());
  std::vector<uint64_t> got = second.Positions();
  REQUIRE(got.size() == 30);
  CHECK(got.front() == 51);
  CHECK(got.back() == 80);
  // Seqs of each stream arrive in order across the two runs.
  for (auto& [stream, seqs] : second.seqs) {
    CHECK(std::is_sorted(seqs.begin(), seqs.end()));
    CHECK(seqs.front() > first.seqs[stream].back());
  }
}

TEST_CASE(
    "a sparse filter and deleted events still advance the checkpoint "
    "to the head" *
    doctest::test_suite("lmdb")) {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  auto cps = InStoreCheckpoints(*store).value();
  for (int i = 0; i < 300; ++i) AppendOne(*store, "noise");
  REQUIRE(store->journal().DeleteTo("noise", 200).ok());
  const uint64_t head = AppendOne(*store, "rare", "Rare");
  for (int i = 0; i < 10; ++i) AppendOne(*store, "noise");
  SubscriptionOptions o;
  o.name = "sparse";
  o.checkpoints = cps.get();
  o.filter.types = {"Rare"};
  o.max_batch = 64;
  Seen seen;
  auto sub = StartOrFail(*store, o, seen.Handler());
  REQUIRE(sub->WaitFor(head + 10, kLongWait).ok());
  REQUIRE(sub->Stop().ok());
  CHECK(seen.Positions() == std::vector<uint64_t>{head});
  CHECK(cps->Load("sparse").value() == head + 10);
}

TEST_CASE(
    "StartAt::Head skips history and StartAt::After resumes exactly "
    "where a caller-kept checkpoint says") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  for (int i = 0; i < 10; ++i) AppendOne(*store, "a");
  SubscriptionOptions o;
  o.name = "h";
  o.start = StartAt::Head();
  Seen from_head;
  auto sub = StartOrFail(*store, o, from_head.Handler());
  const uint64_t p = AppendOne(*store, "a");
  REQUIRE(sub->WaitFor(p, kLongWait).ok());
  CHECK(from_head.Positions() == std::vector<uint64_t>{p});
  REQUIRE(sub->Stop().ok());
  CHECK(sub->WaitFor(p + 1, kLongWait).IsClosed());

  o.name = "after";
  o.start = StartAt::After(7);
  Seen after;
  auto sub2 = StartOrFail(*store, o, after.Handler());
  REQUIRE(sub2->WaitFor(p, kLongWait).ok());
  CHECK(after.Positions() == std::vector<uint64_t>{8, 9, 10, 11});
}

TEST_CASE(
    "partitions give each stream to exactly one of N consumers, in "
    "order") {
  test::TempDir dir;
  auto store = OpenStoreOrFail(dir.path(), FastStore());
  uint64_t last = 0;
  for (int i = 0; i < 200; ++i) {
    last = AppendOne(*store, "p-" + std::to_string(i % 23));
  }
  constexpr uint32_t kParts = 3;
  Seen seen[kParts];
  std::vector<std::unique_ptr<Subscription>> subs;
  for (uint32_t k = 0; k < kParts; ++k) {
    SubscriptionOptions o;
    o.name = "part-" + std::to_string(k);
    o.filter.partitions = kParts;
    o.filter.partition = k;
    subs.push_back(StartOrFail(*store, o, seen[k].Handler()));
  }
  std::set<std::string> owners;
  size_t total = 0;
  for (uint32_t k = 0; k < kParts; ++k) {
    REQUIRE(subs[k]->WaitFor(last, kLongWait).ok());
    CHECK_FALSE(seen[k].seqs.empty());
    for (auto& [stream, seqs] : seen[k].seqs) {
      CHECK(StreamPartition(stream, kParts) == k);
      CHECK(owners.insert(stream).second);  // in no other partition
      CHECK(std::is_sorted(seqs.begin(), seqs.end()));
      total += seqs.size();
    }
  }
  CHECK(owners.size() == 23);
  CHECK(total == 200);
  // The hash (FNV-1a, 64-bit) is fixed: consumers in other processes and
  // later versions must agree on which partition owns a stream.
  CHECK(StreamPartition("p-0", 3) == 2);
  CHECK(StreamPartition("account-1", 1024) == 598);
  CHECK(StreamPartition("order-42", 16) == 4);
  CHECK(StreamPartition("anything", 1) == 0);
}

}  // namespace
}  // namespace memoir

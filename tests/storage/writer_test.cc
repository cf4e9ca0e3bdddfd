// Group commit and the writer's failure policy (storage/writer.h), driven
// through the journal. The sync interposer (support/sync_faults.h) holds
// the writer inside a commit so later requests queue into one group, and
// injects failed syncs.
#include "storage/writer.h"

#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "memoir/inspect.h"
#include "memoir/store.h"
#include "storage/env.h"
#include "storage/notification.h"
#include "support/sync_faults.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

std::vector<EventData> One(const std::string& payload = "x") {
  return {{"T", payload, 1, {}}};
}

struct Reset {
  ~Reset() { test::ResetSyncFaults(); }
};

}  // namespace

TEST_CASE(
    "conflicting and deleted-stream requests in a group fail alone while their "
    "neighbours commit") {
  Reset reset;
  test::TempDir dir;
  auto store = Store::Open(dir.path());  // kSync: every commit syncs
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  REQUIRE(j.Append("gone", Expected::Any(), One()).ok());
  REQUIRE(j.DeleteStream("gone").ok());
  REQUIRE(j.Append("a", Expected::Any(), One()).ok());

  // Hold the writer inside the next commit's sync.
  test::BlockNextSync();
  auto first = j.AppendAsync({"first", Expected::Any(), One()});
  REQUIRE(test::WaitUntilSyncBlocked());
  uint64_t commits_before = (*store)->Stats().commits;
  // These queue up behind it and form the next group.
  auto ok1 = j.AppendAsync({"a", Expected::At(1), One()});
  auto conflict =
      j.AppendAsync({"a", Expected::At(1), One()});  // stale by then
  auto deleted = j.AppendAsync({"gone", Expected::Any(), One()});
  auto ok2 = j.AppendAsync({"b", Expected::NoStream(), One()});
  test::ReleaseSync();

  REQUIRE(first.get().ok());
  auto r1 = ok1.get();
  auto rc = conflict.get();
  auto rd = deleted.get();
  auto r2 = ok2.get();
  CHECK(r1.ok());
  CHECK(rc.status().IsConflict());
  CHECK(rc.status().actual_seq() == 2);
  CHECK(rd.status().IsStreamDeleted());
  CHECK(r2.ok());
  // The four queued requests went into one commit (plus the held one).
  CHECK((*store)->Stats().commits == commits_before + 2);
  CHECK(*j.Head("a") == 2);
  CHECK(*j.Head("b") == 1);
}

TEST_CASE(
    "a failed fsync stops writes until the store is reopened and loses nothing "
    "acknowledged") {
  Reset reset;
  test::TempDir dir;
  uint64_t acknowledged = 0;
  {
    auto store = Store::Open(dir.path());
    REQUIRE(store.ok());
    Journal& j = (*store)->journal();
    for (int i = 0; i < 5; ++i)
      REQUIRE(j.Append("s", Expected::Any(), One()).ok());
    acknowledged = 5;
    test::FailNextSyncs(1, EIO);
    auto failed = j.Append("s", Expected::Any(), One());
    REQUIRE(!failed.ok());
    CHECK(failed.status().IsIOError());
    CHECK(failed.status().raw_error() == EIO);
    // The fault is gone, but a failed fsync is never retried: the kernel
    // may have dropped the pages. Every later write is refused.
    auto after = j.Append("s", Expected::Any(), One());
    CHECK(after.status().IsIOError());
    CHECK(std::string(after.status().message()).find("reopen") !=
          std::string::npos);
    CHECK((*store)->Sync().IsIOError());
    // Reads still work.
    CHECK(j.Read("s").ok());
  }
  auto store = Store::Open(dir.path());
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  auto head = j.Head("s");
  REQUIRE(head.ok());
  CHECK(*head >= acknowledged);  // the failed commit may or may not be there
  auto r = j.Append("s", Expected::At(*head), One());
  CHECK(r.ok());
  CHECK(j.Read("s")->size() == *head + 1);
}

TEST_CASE("an explicit sync that fails stops writes") {
  Reset reset;
  test::TempDir dir;
  StoreOptions o;
  o.durability = Durability::kNone;
  auto store = Store::Open(dir.path(), o);
  REQUIRE(store.ok());
  REQUIRE((*store)->journal().Append("s", Expected::Any(), One()).ok());
  test::FailNextSyncs(1, EIO);
  CHECK((*store)->Sync().IsIOError());
  CHECK((*store)
            ->journal()
            .Append("s", Expected::Any(), One())
            .status()
            .IsIOError());
}

TEST_CASE("a full queue makes producers wait, then fail busy at the deadline") {
  Reset reset;
  test::TempDir dir;
  StoreOptions o;
  o.max_queue_bytes = 4096;
  o.enqueue_timeout = std::chrono::milliseconds(50);
  auto store = Store::Open(dir.path(), o);
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  test::BlockNextSync();
  auto held = j.AppendAsync({"s", Expected::Any(), One()});
  REQUIRE(test::WaitUntilSyncBlocked());
  std::vector<std::future<Result<AppendResult>>> queued;
  Status busy;
  for (int i = 0; i < 100 && busy.ok(); ++i) {
    auto f = j.AppendAsync({"s", Expected::Any(), One(std::string(1000, 'q'))});
    if (f.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      auto r = f.get();
      REQUIRE(!r.ok());
      busy = r.status();
    } else {
      queued.push_back(std::move(f));
    }
  }
  CHECK(busy.IsBusy());
  CHECK(std::string(busy.message()).find("max_queue_bytes") !=
        std::string::npos);
  CHECK(!queued.empty());
  test::ReleaseSync();
  CHECK(held.get().ok());
  for (auto& f : queued) CHECK(f.get().ok());
  CHECK(*j.Head("s") == 1 + queued.size());
}

TEST_CASE(
    "blocking producers whose requests the writer gathers into its groups each "
    "get their own outcome, also when a group is retried after the map grows") {
  test::TempDir dir;
  StoreOptions o;
  o.map_size = 1 << 20;  // grows several times under this load
  o.max_map_size = 256 << 20;
  o.durability = Durability::kNoMetaSync;  // a real sync per commit, cheaper
  auto store = Store::Open(dir.path(), o);
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  constexpr int kThreads = 8;
  constexpr int kAppends = 150;
  const std::string payload(2000, 'p');
  std::vector<uint64_t> acked(kThreads, 0);
  std::vector<int> conflicts(kThreads, 0), wrong(kThreads, 0);
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      const std::string stream = "p" + std::to_string(t);
      uint64_t head = 0;
      for (int i = 0; i < kAppends; ++i) {
        // Every fifth request expects a seq that is one behind: it must
        // fail alone, whichever group the writer put it in.
        const bool stale = i % 5 == 4;
        auto r = j.Append(stream, Expected::At(stale ? head - 1 : head),
                          One(payload));
        if (stale) {
          if (r.status().IsConflict() && r.status().actual_seq() == head) {
            ++conflicts[t];
          } else {
            ++wrong[t];
          }
        } else if (r.ok() && r->last_seq == head + 1) {
          head = r->last_seq;
        } else {
          ++wrong[t];
        }
      }
      acked[t] = head;
    });
  }
  for (std::thread& t : producers) t.join();
  const StoreStats stats = (*store)->Stats();
  CHECK(stats.map_growths >= 1);
  CHECK(stats.max_group > 1);  // requests did share commits
  for (int t = 0; t < kThreads; ++t) {
    CHECK(wrong[t] == 0);
    CHECK(conflicts[t] == kAppends / 5);
    CHECK(acked[t] == kAppends - kAppends / 5);
  }
  REQUIRE((*store)->Close().ok());
  store->reset();
  auto reopened = Store::Open(dir.path(), o);
  REQUIRE(reopened.ok());
  for (int t = 0; t < kThreads; ++t) {
    const std::string stream = "p" + std::to_string(t);
    CHECK(*(*reopened)->journal().Head(stream) == acked[t]);
    auto events = (*reopened)->journal().Read(stream);
    REQUIRE(events.ok());
    CHECK(events->size() == acked[t]);
  }
}

TEST_CASE(
    "a repair whose commit fails to sync changes nothing, says so, and a later "
    "repair restores the record") {
  Reset reset;
  test::TempDir dir;
  {
    auto store = Store::Open(dir.path());
    REQUIRE(store.ok());
    for (int i = 0; i < 3; ++i) {
      REQUIRE((*store)
                  ->journal()
                  .Append("s", Expected::Any(),
                          One("payload-" + std::string(40, 'a' + i)))
                  .ok());
    }
  }
  // One flipped payload bit in seq 2 (position 2): a proven one-bit repair.
  REQUIRE(test::FlipValueBit(dir.path(), "log", test::Big64(2), 90, 3));
  auto damaged = [&] {
    StoreOptions ro;
    ro.read_only = true;
    auto store = Store::Open(dir.path(), ro);
    REQUIRE(store.ok());
    return (*store)->journal().Read("s").status().IsCorruption();
  };
  REQUIRE(damaged());

  test::FailNextSyncs(1, EIO);
  auto failed = RepairStore(dir.path());
  REQUIRE(!failed.ok());
  CHECK(failed.status().IsIOError());
  CHECK(failed.status().raw_error() == EIO);
  CHECK(std::string(failed.status().message()).find("nothing was changed") !=
        std::string::npos);
  CHECK(damaged());  // the failed commit left the record as it was

  auto repaired = RepairStore(dir.path());
  REQUIRE(repaired.ok());
  CHECK(repaired->repaired.size() == 1);
  CHECK(repaired->unrepaired.empty());
  CHECK(!damaged());
  auto store = Store::Open(dir.path());
  REQUIRE(store.ok());
  auto events = (*store)->journal().Read("s");
  REQUIRE(events.ok());
  REQUIRE(events->size() == 3);
  CHECK((*events)[1].payload == "payload-" + std::string(40, 'b'));
}

TEST_CASE(
    "closing under load commits everything acknowledged and refuses the rest") {
  test::TempDir dir;
  StoreOptions o;
  o.durability = Durability::kNone;
  auto store = Store::Open(dir.path(), o);
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  constexpr int kThreads = 8;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> acked(kThreads, 0);
  std::atomic<int> total_acks{0};
  std::atomic<int> callbacks{0};
  std::atomic<int> submitted{0};
  std::atomic<int> closed_refusals{0};
  std::atomic<int> other_errors{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      std::string stream = "p" + std::to_string(t);
      while (!stop.load()) {
        submitted.fetch_add(1);
        j.Append({stream, Expected::Any(), One()},
                 [&, t](Result<AppendResult> r) {
                   if (r.ok()) {
                     std::lock_guard<std::mutex> lock(mu);
                     acked[t] = std::max(acked[t], r->last_seq);
                     total_acks.fetch_add(1);
                     cv.notify_all();
                   } else if (r.status().IsClosed()) {
                     closed_refusals.fetch_add(1);
                     stop.store(true);
                   } else {
                     other_errors.fetch_add(1);
                   }
                   callbacks.fetch_add(1);
                 });
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(20),
                        [&] { return total_acks.load() >= 2000; }));
  }
  REQUIRE((*store)->Close().ok());
  stop.store(true);
  for (auto& t : producers) t.join();
  CHECK(callbacks.load() == submitted.load());  // every request answered once
  CHECK(other_errors.load() == 0);
  CHECK(closed_refusals.load() > 0);
  store->reset();
  auto reopened = Store::Open(dir.path(), o);
  REQUIRE(reopened.ok());
  for (int t = 0; t < kThreads; ++t) {
    CHECK(*(*reopened)->journal().Head("p" + std::to_string(t)) == acked[t]);
  }
}

TEST_CASE(
    "a full disk gives storage full, loses nothing acknowledged, and recovers "
    "once space is freed") {
  Reset reset;
  test::TempDir dir;
  std::string mnt = dir.Sub("tmpfs");
  REQUIRE(mkdir(mnt.c_str(), 0700) == 0);
  if (geteuid() != 0 ||
      mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=8m") != 0) {
    MESSAGE("skipped: mounting an 8 MiB tmpfs needs root (errno ", errno, ")");
    return;
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  // Ballast that the test deletes to free space later.
  {
    std::ofstream ballast(mnt + "/ballast", std::ios::binary);
    std::string mb(1 << 20, 'b');
    for (int i = 0; i < 3; ++i) ballast << mb;
  }
  StoreOptions o;
  o.map_size = 64 << 20;  // the map is not the limit here: the disk is
  o.max_map_size = 64 << 20;
  auto store = Store::Open(mnt + "/store", o);
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  std::string chunk(32 << 10, 'c');
  uint64_t acknowledged = 0;
  Status full;
  for (int i = 0; i < 1000; ++i) {
    auto r = j.Append("s", Expected::Any(), One(chunk));
    if (!r.ok()) {
      full = r.status();
      break;
    }
    acknowledged = r->last_seq;
  }
  REQUIRE(full.IsStorageFull());
  CHECK(std::string(full.message()).find("free disk space") !=
        std::string::npos);
  CHECK(acknowledged > 0);
  CHECK(j.Read("s")->size() == acknowledged);
  // Still full: still refused, and still not fatal.
  CHECK(j.Append("s", Expected::Any(), One(chunk)).status().IsStorageFull());
  REQUIRE(unlink((mnt + "/ballast").c_str()) == 0);
  auto again = j.Append("s", Expected::At(acknowledged), One(chunk));
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  CHECK(again->last_seq == acknowledged + 1);
  REQUIRE((*store)->Close().ok());
  store->reset();
  auto reopened = Store::Open(mnt + "/store", o);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->journal().Read("s")->size() == acknowledged + 1);
}

}  // namespace memoir

namespace memoir {

TEST_CASE(
    "every blocked appender of a group is woken with its own outcome, however "
    "many there are") {
  Reset reset;
  test::TempDir dir;
  auto store = Store::Open(dir.path());  // kSync: every commit syncs
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  REQUIRE(j.Append("s", Expected::Any(), One()).ok());
  // Hold the writer in a commit while 37 blocking appends queue up; they
  // commit as one group and wake one another (WaitNode).
  test::BlockNextSync();
  auto held = j.AppendAsync({"held", Expected::Any(), One()});
  REQUIRE(test::WaitUntilSyncBlocked());
  constexpr int kThreads = 37;
  std::vector<Result<AppendResult>> results(kThreads, Status::Busy("not run"));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Every third expects a head that is never right: it fails alone.
      Expected e = t % 3 == 2 ? Expected::At(1000) : Expected::Any();
      results[t] = j.Append("s", e, One(std::to_string(t)));
    });
  }
  // Give them time to queue (most will; the test holds either way).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  test::ReleaseSync();
  REQUIRE(held.get().ok());
  for (std::thread& t : threads) t.join();
  std::vector<uint64_t> seqs;
  for (int t = 0; t < kThreads; ++t) {
    CAPTURE(t);
    if (t % 3 == 2) {
      CHECK(results[t].status().IsConflict());
    } else {
      REQUIRE(results[t].ok());
      seqs.push_back(results[t]->first_seq);
    }
  }
  std::sort(seqs.begin(), seqs.end());
  for (size_t i = 0; i < seqs.size(); ++i) CHECK(seqs[i] == i + 2);
  CHECK(j.Read("s")->size() == seqs.size() + 1);
}

TEST_CASE("store stats count only commits that carried requests") {
  test::TempDir dir;
  StoreOptions o;
  o.durability = Durability::kNone;
  auto store = Store::Open(dir.path(), o);
  REQUIRE(store.ok());
  Journal& j = (*store)->journal();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(j.Append("s", Expected::Any(), {{"T", "x", 1, {}}}).ok());
  }
  // A refused request still rides in a committed transaction.
  CHECK(j.Append("s", Expected::At(0), {{"T", "x", 1, {}}})
            .status()
            .IsConflict());
  REQUIRE((*store)->Close().ok());  // its index-flush commit carries none
  StoreStats stats = (*store)->Stats();
  CHECK(stats.commits == 4);
  CHECK(stats.write_requests == 4);
  CHECK(stats.max_group == 1);
}

}  // namespace memoir

namespace memoir::internal {
namespace {

// An op on the test's stack: if the writer deleted it, the sanitizers
// would report the bad free.
class StackOp final : public WriteOp {
 public:
  size_t bytes() const override { return 16; }
  int Apply(MDB_txn*, Status*) override {
    ++applied;
    return 0;
  }
  void Done(Status s) override {
    status = std::move(s);
    ++done;
    finished.Notify();
  }
  int applied = 0;
  int done = 0;
  Status status;
  Notification finished;
};

}  // namespace

TEST_CASE("a borrowed op is completed once and never deleted by the writer") {
  test::TempDir dir;
  StoreOptions o;
  o.durability = Durability::kNone;
  auto env = Env::Open(dir.path(), o);
  REQUIRE(env.ok());
  Writer writer(env->get());
  writer.Start();
  StackOp ops[3];
  for (StackOp& op : ops) writer.SubmitBorrowed(&op);
  for (StackOp& op : ops) {
    op.finished.Wait();
    CHECK(op.applied == 1);
    CHECK(op.done == 1);
    CHECK(op.status.ok());
  }
  REQUIRE(writer.Close().ok());
  // Refused before queueing: completed on this thread, still not deleted.
  StackOp late;
  writer.SubmitBorrowed(&late);
  CHECK(late.done == 1);
  CHECK(late.applied == 0);
  CHECK(late.status.IsClosed());
}

namespace {

// How long a test waits for the writer before it fails: far longer than a
// loaded machine under a sanitizer needs.
constexpr auto kDeadline = std::chrono::seconds(60);
// A gather's time limit long enough that only what a test does (returning
// submitters, a full batch, Close) ends it (WriterTestHooks::linger); well
// above kDeadline, so that a gather ended by the limit fails the test.
constexpr auto kLongLinger = std::chrono::seconds(600);

int Put(MDB_txn* txn, MDB_dbi dbi, const std::string& key) {
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v = k;
  return mdb_put(txn, dbi, &k, &v, 0);
}

// A blocking request on the submitter's stack, as the journal's Append.
class BlockingPut final : public WriteOp {
 public:
  BlockingPut(MDB_dbi dbi, std::string key) : dbi_(dbi), key_(std::move(key)) {}
  size_t bytes() const override { return 16; }
  int Apply(MDB_txn* txn, Status*) override { return Put(txn, dbi_, key_); }
  void Done(Status s) override { status_ = std::move(s); }
  WaitNode* wait_node() override { return &node_; }
  Status Wait() {
    node_.Wait();
    return status_;
  }

 private:
  MDB_dbi dbi_;
  std::string key_;
  Status status_;
  WaitNode node_;
};

// An asynchronous request of a chosen size, owned by the writer.
class AsyncPut final : public WriteOp {
 public:
  AsyncPut(MDB_dbi dbi, std::string key, size_t bytes)
      : dbi_(dbi), key_(std::move(key)), bytes_(bytes) {}
  size_t bytes() const override { return bytes_; }
  int Apply(MDB_txn* txn, Status*) override { return Put(txn, dbi_, key_); }
  void Done(Status s) override { done_.set_value(std::move(s)); }
  std::future<Status> future() { return done_.get_future(); }

 private:
  MDB_dbi dbi_;
  std::string key_;
  size_t bytes_;
  std::promise<Status> done_;
};

// Holds the writer inside a transaction (in Op::Apply) until released, so
// that requests queue up behind it. Shared with the op, which may outlive
// a failed test's frame.
class Hold {
 public:
  class Op final : public WriteOp {
   public:
    explicit Op(std::shared_ptr<Hold> hold) : hold_(std::move(hold)) {}
    size_t bytes() const override { return 0; }
    int Apply(MDB_txn*, Status*) override {
      std::unique_lock<std::mutex> lock(hold_->mu_);
      hold_->held_ = true;
      hold_->cv_.notify_all();
      // Bounded, so that a failed test does not leave the writer stuck.
      hold_->cv_.wait_for(lock, kDeadline, [this] { return hold_->released_; });
      return 0;
    }
    void Done(Status) override {}

   private:
    std::shared_ptr<Hold> hold_;
  };

  bool WaitHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [this] { return held_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool released_ = false;
};

// Counts events on another thread (the writer's gathers, from
// WriterTestHooks::gathering); waited for with a deadline.
class Counter {
 public:
  void Add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++n_;
    cv_.notify_all();
  }
  bool WaitFor(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return n_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

// Blocking producers whose every request the test allows, so that it
// decides who returns after a commit: producer t's request of round r
// writes key "p<t>-<r>". The test's waits have a deadline, so that a writer
// that never answers fails the test instead of hanging it.
class Crew {
 public:
  Crew(Writer* writer, MDB_dbi dbi, int size) : results_(size), allowed_(size) {
    for (int t = 0; t < size; ++t) {
      threads_.emplace_back([this, writer, dbi, t] {
        for (int round = 0;; ++round) {
          {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] { return stop_ || allowed_[t] > round; });
            if (allowed_[t] <= round) return;
          }
          BlockingPut op(dbi, Key(t, round));
          writer->SubmitBorrowed(&op);
          Update([&] { ++submitted_; });
          Status s = op.Wait();
          Update([&] {
            results_[t].push_back(std::move(s));
            ++finished_;
          });
        }
      });
    }
  }
  ~Crew() {
    Update([&] { stop_ = true; });
    for (std::thread& t : threads_) t.join();
  }

  static std::string Key(int producer, int round) {
    return "p" + std::to_string(producer) + "-" + std::to_string(round);
  }
  // Lets producers [first, last) submit one more request each.
  void Allow(int first, int last) {
    Update([&] {
      for (int t = first; t < last; ++t) ++allowed_[t];
    });
  }
  // Wait until so many requests in all were submitted (queued or refused)
  // or finished; false at the deadline.
  bool WaitSubmitted(int n) {
    return WaitFor([&] { return submitted_ >= n; });
  }
  bool WaitFinished(int n) {
    return WaitFor([&] { return finished_ >= n; });
  }
  int finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }
  // The outcomes of producer t's requests, by round.
  std::vector<Status> results(int t) {
    std::lock_guard<std::mutex> lock(mu_);
    return results_[t];
  }

 private:
  template <typename F>
  void Update(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    f();
    cv_.notify_all();
  }
  template <typename P>
  bool WaitFor(P pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, pred);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<Status>> results_;
  std::vector<int> allowed_;
  int submitted_ = 0;
  int finished_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// Makes the first `producers` of `crew` submit while `writer` is held, so
// that their requests commit as one group, which leaves the writer expecting
// all of them back (and gathering while they are not).
void CommitOneGroup(Writer& writer, Crew& crew, int producers) {
  auto hold = std::make_shared<Hold>();
  writer.Submit(std::make_unique<Hold::Op>(hold));
  REQUIRE(hold->WaitHeld());
  crew.Allow(0, producers);
  REQUIRE(crew.WaitSubmitted(producers));
  hold->Release();
  REQUIRE(crew.WaitFinished(producers));
  for (int t = 0; t < producers; ++t) REQUIRE(crew.results(t).at(0).ok());
  REQUIRE(writer.stats().max_group == static_cast<uint64_t>(producers));
}

std::unique_ptr<Env> OpenEnv(const std::string& dir, const StoreOptions& o) {
  auto env = Env::Open(dir, o);
  REQUIRE(env.ok());
  return std::move(env).value();
}

MDB_dbi OpenTable(Env* env) {
  auto dbi = env->OpenDatabase("t");
  REQUIRE(dbi.ok());
  return *dbi;
}

// A writer on table "t" whose last group was `producers` blocking requests
// of `crew`, set to gather their next ones for as long as a test needs
// (kLongLinger); `gathers` counts the times it began to wait. The test
// closes the writer before the fixture goes (the crew's producers wait for
// their answers).
struct GatheringWriter {
  GatheringWriter(const std::string& dir, const StoreOptions& o, int producers)
      : env(OpenEnv(dir, o)),
        dbi(OpenTable(env.get())),
        writer(env.get()),
        crew(&writer, dbi, producers) {
    writer.SetTestHooks({kLongLinger, [this] { gathers.Add(); }});
    writer.Start();
    CommitOneGroup(writer, crew, producers);
  }

  std::unique_ptr<Env> env;
  MDB_dbi dbi;
  Counter gathers;
  Writer writer;
  Crew crew;
};

}  // namespace

TEST_CASE(
    "closing while the writer gathers a group commits what it gathered and "
    "fails later requests with the closed error") {
  test::TempDir dir;
  StoreOptions o;
  o.durability = Durability::kNone;
  constexpr int kProducers = 8;
  std::vector<std::pair<std::string, Status>> outcomes;
  {
    GatheringWriter g(dir.path(), o, kProducers);
    Writer& writer = g.writer;
    Crew& crew = g.crew;
    Counter& gathers = g.gathers;

    // One producer comes back: the writer applies its request and waits
    // for the seven others. A second one queues meanwhile (too few to wake
    // the writer).
    crew.Allow(0, 1);
    REQUIRE(gathers.WaitFor(1));
    crew.Allow(1, 2);
    REQUIRE(crew.WaitSubmitted(kProducers + 2));
    CHECK(crew.finished() == kProducers);  // still gathering

    auto closed =
        std::async(std::launch::async, [&] { return writer.Close(); });
    CHECK(closed.wait_for(kDeadline) == std::future_status::ready);
    CHECK(closed.get().ok());
    // Both requests submitted before Close were committed...
    REQUIRE(crew.WaitFinished(kProducers + 2));
    // ...and the producers that come back now are refused.
    crew.Allow(2, kProducers);
    REQUIRE(crew.WaitFinished(2 * kProducers));
    for (int t = 0; t < kProducers; ++t) {
      CAPTURE(t);
      std::vector<Status> r = crew.results(t);
      REQUIRE(r.size() == 2);
      CHECK(r[0].ok());
      if (t < 2) {
        CHECK(r[1].ok());
      } else {
        CHECK(r[1].IsClosed());
      }
      for (int round = 0; round < 2; ++round) {
        outcomes.emplace_back(Crew::Key(t, round), r[round]);
      }
    }
  }
  // After a reopen: what succeeded is there, what was refused is not.
  std::unique_ptr<Env> env = OpenEnv(dir.path(), o);
  const MDB_dbi dbi = OpenTable(env.get());
  auto txn = env->BeginRead();
  REQUIRE(txn.ok());
  for (const auto& outcome : outcomes) {
    const std::string& key = outcome.first;
    CAPTURE(key);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v;
    CHECK(mdb_get(txn->get(), dbi, &k, &v) ==
          (outcome.second.ok() ? 0 : MDB_NOTFOUND));
  }
}

TEST_CASE("a request that fills the batch ends the writer's gather at once") {
  test::TempDir dir;
  StoreOptions o;
  o.durability = Durability::kNone;
  o.max_batch_bytes = 4096;
  constexpr int kProducers = 8;
  GatheringWriter g(dir.path(), o, kProducers);
  Writer& writer = g.writer;
  Crew& crew = g.crew;
  Counter& gathers = g.gathers;
  const uint64_t commits = writer.stats().commits;

  // The writer applies one returning request and waits for seven more; a
  // request of the batch's remaining bytes arrives instead. One request
  // does not reach the count that wakes the writer, but it fills the batch.
  crew.Allow(0, 1);
  REQUIRE(gathers.WaitFor(1));
  auto big = std::make_unique<AsyncPut>(g.dbi, "big", 4096 - 16);
  std::future<Status> big_done = big->future();
  writer.Submit(std::move(big));
  const bool ended = big_done.wait_for(kDeadline) == std::future_status::ready;
  CHECK(ended);
  if (ended) {
    // Both requests went into one commit.
    CHECK(writer.stats().commits == commits + 1);
  }
  // Closing ends a gather too, should the full batch not have.
  REQUIRE(writer.Close().ok());
  CHECK(big_done.get().ok());
  REQUIRE(crew.WaitFinished(kProducers + 1));
  CHECK(crew.results(0).at(1).ok());
}

}  // namespace memoir::internal

// fault_child STORE short|long [sync|nometasync|none]: the scripted workload
// the I/O fault sweep runs under an injected fault (fault_sweep_test.cc).
//
// The fault comes from the environment (support/io_faults.h) and is armed
// from the first call: creating the store is a step like any other. A few
// threads each own two streams and run the same script every time: single
// appends with an exact expectation, two appends in flight at once (so the
// writer groups them), an atomic append to both streams, a snapshot save
// and an append with its snapshot; halfway through, one thread forces a
// sync. Then a sync and a close. Every acknowledgement and every error is
// reported as it happens (fault_workload.h gives the lines).
//
// What the child does after an error follows the store's contract: it
// lifts the fault (space freed, device back), probes whether the same open
// store accepts an append (it must after "storage full"; it must refuse,
// saying to reopen, after a failed sync), closes, reopens, probes again and
// appends once more to every stream with the head it believes in (a
// conflict there would mean a failed append was stored after all).
//
// An inline projection counts the events of each stream throughout the
// workload, so that the parent can check that every commit carried the
// read model with its events, or neither. Every fourth round also sends a
// durable message with an event and takes it with another (the parent
// checks that each commit carried its messages with its events, or
// neither).
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "memoir/message_store.h"
#include "memoir/projection.h"
#include "memoir/store.h"
#include "reliability/fault_workload.h"
#include "support/io_faults.h"

namespace memoir {
namespace {

void Say(const std::string& line) {
  std::string out = line + "\n";
  ssize_t n = ::write(1, out.data(), out.size());
  (void)n;
}

// Messages go on one line.
std::string OneLine(std::string_view msg) {
  std::string out(msg);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

int CodeOf(const Status& s) { return static_cast<int>(s.code()); }

std::atomic<bool> g_saw_error{false};

void SayError(std::string_view tag, std::string_view what, const Status& s) {
  g_saw_error.store(true);
  Say(fmt::format("{} {} {} {}", tag, what, CodeOf(s), OneLine(s.message())));
}

struct Stream {
  std::string name;
  uint64_t head = 0;  // as the child believes it: moved by acks only
};

class Script {
 public:
  Script(Store& store, int thread, int rounds)
      : store_(&store), thread_(thread), rounds_(rounds) {
    a_.name = fmt::format("t{}-a", thread);
    b_.name = fmt::format("t{}-b", thread);
    m_.name = fmt::format("t{}-m", thread);
    r_.name = fmt::format("t{}-r", thread);
  }

  void Run() {
    for (int r = 0; r < rounds_; ++r) {
      const size_t n = 1 + static_cast<size_t>(r + thread_) % 3;
      switch (r % 4) {
        case 0:
          AppendOne(a_, n);
          break;
        case 1:
          AppendTwoInFlight(n);
          break;
        case 2:
          AppendBoth(1 + n % 2, 1 + (n + 1) % 2);
          SendAndTake();
          break;
        case 3:
          SaveAndAppendWithSnapshot();
          break;
      }
      if (thread_ == 0 && r == rounds_ / 2) {
        Status s = store_->Sync();
        if (!s.ok()) SayError("E", "sync", s);
      }
    }
  }

  // One more append to each stream of `reopened`, expecting the head the
  // child believes.
  void AppendAfterReopen(Store& reopened) {
    store_ = &reopened;
    AppendOne(a_, 1);
    AppendOne(b_, 2);
  }

 private:
  uint64_t NextCid() { return uint64_t(thread_ + 1) * 100000 + next_++; }

  std::vector<EventData> Events(uint64_t cid, size_t first, size_t n,
                                size_t total) {
    std::vector<EventData> out;
    for (size_t i = first; i < first + n; ++i) {
      out.push_back({"Fault", test::FaultEventPayload(cid, i, total), 1, {}});
    }
    return out;
  }

  StreamAppend Request(Stream& s, uint64_t cid, size_t first, size_t n,
                       size_t total) {
    return StreamAppend{s.name, Expected::At(s.head),
                        Events(cid, first, n, total)};
  }

  void Acked(uint64_t cid, Stream& s, const AppendResult& r) {
    s.head = r.last_seq;
    Say(fmt::format("A {} {} {} {}", cid, s.name, r.first_seq, r.last_seq));
  }

  void Failed(uint64_t cid, Stream* s, const Status& st) {
    // A conflict tells the actual head: follow it, and let the parent
    // judge (a failed append that was stored after all shows up here).
    if (st.IsConflict() && s != nullptr) s->head = st.actual_seq();
    SayError("N", std::to_string(cid), st);
  }

  void AppendOne(Stream& s, size_t n) {
    const uint64_t cid = NextCid();
    auto r = store_->journal().Append(s.name, Expected::At(s.head),
                                      Events(cid, 0, n, n));
    if (r.ok()) {
      Acked(cid, s, *r);
    } else {
      Failed(cid, &s, r.status());
    }
  }

  void AppendTwoInFlight(size_t n) {
    const uint64_t ca = NextCid(), cb = NextCid();
    auto fa = store_->journal().AppendAsync(Request(a_, ca, 0, n, n));
    auto fb = store_->journal().AppendAsync(Request(b_, cb, 0, 1, 1));
    auto ra = fa.get();
    auto rb = fb.get();
    if (ra.ok()) {
      Acked(ca, a_, *ra);
    } else {
      Failed(ca, &a_, ra.status());
    }
    if (rb.ok()) {
      Acked(cb, b_, *rb);
    } else {
      Failed(cb, &b_, rb.status());
    }
  }

  void AppendBoth(size_t na, size_t nb) {
    const uint64_t cid = NextCid();
    std::vector<StreamAppend> req;
    req.push_back(Request(a_, cid, 0, na, na + nb));
    req.push_back(Request(b_, cid, na, nb, na + nb));
    auto r = store_->journal().AppendMulti(std::move(req));
    if (r.ok()) {
      Acked(cid, a_, (*r)[0]);
      Acked(cid, b_, (*r)[1]);
    } else {
      Failed(cid, nullptr, r.status());
    }
  }

  void SaveAndAppendWithSnapshot() {
    if (a_.head > 0) {
      Status s = store_->snapshots().Save(
          a_.name, a_.head,
          {"FaultState", 1, test::FaultSnapshotPayload(a_.name, a_.head)});
      if (s.ok()) {
        Say(fmt::format("S {} {}", a_.name, a_.head));
      } else {
        SayError("Q", fmt::format("{} {}", a_.name, a_.head), s);
      }
    }
    const uint64_t cid = NextCid();
    const uint64_t seq = b_.head + 1;
    auto r = store_->snapshots().AppendWithSnapshot(
        Request(b_, cid, 0, 1, 1),
        {"FaultState", 1, test::FaultSnapshotPayload(b_.name, seq)});
    if (r.ok()) {
      Acked(cid, b_, *r);
      Say(fmt::format("S {} {}", b_.name, r->last_seq));
    } else {
      Failed(cid, &b_, r.status());
    }
  }

  // A durable message sent with an event of m_, then taken with an event
  // of r_ (its request id is the sender's plus kTakeCid); the take of an
  // even request refuses it, which sends the refusal back (the sender
  // asks for that).
  void SendAndTake() {
    auto messages = InStoreMessages(*store_);
    if (!messages.ok()) {
      SayError("E", "messages", messages.status());
      return;
    }
    const uint64_t cid = NextCid();
    MessageCommit send;
    send.append = Request(m_, cid, 0, 1, 1);
    OutgoingMessage out;
    out.receiver_type = "fault";
    out.receiver = r_.name;
    out.command = {
        test::kMessageType, test::FaultEventPayload(cid, 0, 1), 1, {}};
    out.reply_type = "fault";
    send.send.push_back(std::move(out));
    auto sent = (*messages)->Commit(std::move(send));
    if (!sent.ok()) {
      Failed(cid, &m_, sent.status());
      return;
    }
    Acked(cid, m_, sent->append);
    const uint64_t take_cid = cid + test::kTakeCid;
    MessageCommit take;
    take.append = Request(r_, take_cid, 0, 1, 1);
    take.take.push_back({sent->sent.at(0).key, sent->sent.at(0).id});
    if (cid % 2 == 0) {
      take.take.back().refused = true;
      take.take.back().reason = "refused by the sweep";
    }
    auto taken = (*messages)->Commit(std::move(take));
    if (taken.ok()) {
      Acked(take_cid, r_, taken->append);
    } else {
      Failed(take_cid, &r_, taken.status());
    }
  }

  Store* store_;
  const int thread_;
  const int rounds_;
  uint64_t next_ = 0;
  Stream a_, b_;
  Stream m_, r_;  // durable messages: sender, receiver
};

uint64_t g_probe_cid = 900000;

void Probe(Store& store, std::string_view where) {
  const uint64_t cid = g_probe_cid++;
  auto r = store.journal().Append(
      "probe", Expected::Any(),
      {{"Fault", test::FaultEventPayload(cid, 0, 1), 1, {}}});
  if (r.ok()) {
    Say(fmt::format("A {} probe {} {}", cid, r->first_seq, r->last_seq));
    Say(fmt::format("P {} 0 ok", where));
  } else {
    Say(fmt::format("P {} {} {}", where, CodeOf(r.status()),
                    OneLine(r.status().message())));
  }
}

StoreOptions Options(std::string_view durability) {
  StoreOptions o;
  o.durability = Durability::kSync;
  if (durability == "nometasync") o.durability = Durability::kNoMetaSync;
  if (durability == "none") {
    // Syncs come from Sync, Close and the background sync.
    o.durability = Durability::kNone;
    o.periodic_sync = std::chrono::milliseconds(5);
  }
  // Index flushes inside the workload, not only at close.
  o.index_flush_events = 16;
  return o;
}

void ReportTally() {
  test::IoFaultTally t = test::IoFaultsSoFar();
  for (size_t i = 0; i < test::kIoOpCount; ++i) {
    Say(fmt::format("C {} {}", test::IoOpName(static_cast<test::IoOp>(i)),
                    t.calls[i]));
  }
  if (t.injected) {
    Say(fmt::format("F {} {} {}", test::IoOpName(t.injected_op), t.injected_at,
                    t.injected_path));
  }
  if (t.failed_meta_write) Say("M");
  Say(fmt::format("K {}", t.failed));
}

int Main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    fmt::print(stderr,
               "usage: fault_child STORE short|long [sync|nometasync|none]\n");
    return 2;
  }
  const std::string path = argv[1];
  const bool long_form = std::string_view(argv[2]) == "long";
  const StoreOptions options = Options(argc == 4 ? argv[3] : "sync");
  std::string error;
  auto plan = test::IoFaultPlanFromEnv(&error);
  if (!plan) {
    fmt::print(stderr, "fault_child: {}\n", error);
    return 2;
  }
  test::ArmIoFaults(*plan);
  const int threads = long_form ? 4 : 3;
  const int rounds = long_form ? 24 : 8;

  // A failed open is reported but is not an error of the store the
  // workload then uses: that one is opened afresh.
  auto store = Store::Open(path, options);
  if (!store.ok()) {
    Say(fmt::format("E open {} {}", CodeOf(store.status()),
                    OneLine(store.status().message())));
    test::LiftIoFaults();
    store = Store::Open(path, options);
    if (!store.ok()) {
      SayError("E", "reopen", store.status());
      return 3;
    }
  }
  // Counts each stream's events in the writer's transactions.
  ProjectionOptions po;
  po.name = test::kFaultProjection;
  po.tables = {"events"};
  po.mode = ProjectionOptions::Mode::kInline;
  auto projection =
      Projection::Start(**store, po, [](ReadModel& model, const EventView& e) {
        auto old = model.Get("events", e.stream);
        if (!old.ok()) return old.status();
        const uint64_t n = *old ? std::stoull(**old) : 0;
        return model.Put("events", e.stream, std::to_string(n + 1));
      });
  // A failed commit of its record is a caller's error like any other.
  if (!projection.ok()) SayError("E", "projection", projection.status());
  // On an empty store it attaches in Start; after a failed open, the
  // store may hold a few events to catch up first.
  const auto attach_by =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (projection.ok() && !(*projection)->Stats().attached &&
         (*projection)->Stats().state != SubscriptionStats::State::kStopped &&
         std::chrono::steady_clock::now() < attach_by) {
    std::this_thread::yield();
  }
  std::vector<std::unique_ptr<Script>> scripts;
  for (int t = 0; t < threads; ++t) {
    scripts.push_back(std::make_unique<Script>(**store, t, rounds));
  }
  {
    std::vector<std::thread> running;
    for (auto& s : scripts) running.emplace_back([&s] { s->Run(); });
    for (auto& t : running) t.join();
  }
  bool lifted = false;
  auto lift_and_probe = [&] {
    if (lifted) return;
    lifted = true;
    test::LiftIoFaults();
    Probe(**store, "same");
  };
  if (g_saw_error.load()) lift_and_probe();
  Status s = (*store)->Sync();
  if (!s.ok()) {
    SayError("E", "sync", s);
    lift_and_probe();
  }
  if (projection.ok()) {
    ProjectionStats ps = (*projection)->Stats();
    // Its own commits (catching up, attaching) met the fault: report it.
    for (const Status& seen : {ps.cause, ps.detached_because}) {
      if (seen.IsIOError() || seen.IsStorageFull())
        SayError("E", "projection", seen);
    }
    auto head = (*store)->journal().LastPosition();
    Say(fmt::format("J {} {} {} {}", ps.attached ? 1 : 0, ps.detaches,
                    ps.checkpoint, head.ok() ? *head : 0));
    (void)(*projection)->Stop();
    projection->reset();
  } else {
    Say("J -");
  }
  Say(fmt::format("Y {}", test::IoFaultsSoFar().failed));
  s = (*store)->Close();
  if (!s.ok()) SayError("E", "close", s);
  test::LiftIoFaults();
  store->reset();

  // Reopened without the fault: appends work and the heads are as acked.
  Say("X reopened");
  store = Store::Open(path, options);
  if (!store.ok()) {
    SayError("E", "reopen", store.status());
    return 3;
  }
  Probe(**store, "reopened");
  for (auto& script : scripts) script->AppendAfterReopen(**store);
  s = (*store)->Close();
  if (!s.ok()) SayError("E", "close2", s);
  store->reset();
  ReportTally();
  Say("END");
  return 0;
}

}  // namespace
}  // namespace memoir

int main(int argc, char** argv) { return memoir::Main(argc, argv); }

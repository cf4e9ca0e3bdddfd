// Subscription (memoir/subscription.h): a thread that reads the global log
// in batches after its position, hands the matching events to the handler,
// saves its checkpoint, and waits for the next commit when caught up.
#include "memoir/subscription.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace memoir {
namespace {

using Clock = std::chrono::steady_clock;

bool AnyEquals(const std::vector<std::string>& list, std::string_view v) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& s) { return s == v; });
}

std::string Describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(std::move(e));
  } catch (const std::exception& ex) {
    return std::string("threw: ") + ex.what();
  } catch (...) {
    return "threw a non-standard exception";
  }
}

// The matching events of one batch, copied out of the read transaction
// into chunks that never move, so each view is built as its event is added.
// The chunks are kept from batch to batch: a batch writes its events over
// the last one's, in memory that is already mapped and likely cached.
class BatchBuffer {
 public:
  void Clear() {
    chunk_ = 0;
    used_ = 0;
    views_.clear();
    last_stream_ = {};
    last_type_ = {};
  }
  void Add(const EventView& e) {
    EventView v = e;
    // A run of one stream's events, or of one type, shares one copy of
    // the name.
    if (e.stream != last_stream_) last_stream_ = Copy(e.stream, 1);
    v.stream = last_stream_;
    if (e.type != last_type_) last_type_ = Copy(e.type, 1);
    v.type = last_type_;
    // A payload keeps the alignment the journal gives it (FlatBuffers read
    // 8-byte scalars in place).
    v.payload = Copy(e.payload, kPayloadAlign);
    if (!e.tags.empty()) {
      auto* tags = static_cast<std::string_view*>(Alloc(
          e.tags.size() * sizeof(std::string_view), alignof(std::string_view)));
      for (size_t i = 0; i < e.tags.size(); ++i) {
        new (&tags[i]) std::string_view(Copy(e.tags[i], 1));
      }
      v.tags = std::span<const std::string_view>(tags, e.tags.size());
    }
    if (!e.metadata.empty()) v.metadata = Copy(e.metadata, 1);
    views_.push_back(v);
  }
  // Valid until the next Clear.
  std::span<const EventView> Views() const { return views_; }
  bool empty() const { return views_.empty(); }

 private:
  static constexpr size_t kPayloadAlign = 16;
  static constexpr size_t kChunkBytes = 64 * 1024;
  static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= kPayloadAlign,
                "chunks from new[] must start on a payload boundary");

  struct Chunk {
    std::unique_ptr<char[]> bytes;  // new[] aligns to 16
    size_t size;
  };

  std::string_view Copy(std::string_view s, size_t align) {
    if (s.empty()) return {};
    char* at = static_cast<char*>(Alloc(s.size(), align));
    std::memcpy(at, s.data(), s.size());
    return std::string_view(at, s.size());
  }
  void* Alloc(size_t size, size_t align) {
    for (;;) {
      if (chunk_ < chunks_.size()) {
        Chunk& c = chunks_[chunk_];
        const size_t at = (used_ + align - 1) & ~(align - 1);
        if (at + size <= c.size) {
          used_ = at + size;
          return c.bytes.get() + at;
        }
        ++chunk_;
        used_ = 0;
        continue;
      }
      const size_t bytes = std::max(kChunkBytes, size + kPayloadAlign);
      chunks_.push_back(
          Chunk{std::make_unique_for_overwrite<char[]>(bytes), bytes});
    }
  }

  std::vector<Chunk> chunks_;
  size_t chunk_ = 0;  // the chunk being filled
  size_t used_ = 0;   // bytes used in it
  std::vector<EventView> views_;
  std::string_view last_stream_, last_type_;
};

class SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(Store& store, SubscriptionOptions options, Handler handler,
                   uint64_t start, uint64_t head,
                   const std::vector<ParkedEvent>& parked)
      : journal_(store.journal()),
        options_(std::move(options)),
        handler_(std::move(handler)) {
    SetParked(parked);
    // `memoir retry-parked` asked for a retry while it was not running:
    // the thread's first work (as a RetryParked nobody waits for).
    if (parking() &&
        std::any_of(parked.begin(), parked.end(),
                    [](const ParkedEvent& p) { return p.retry; })) {
      retry_asked_ = 1;
    }
    stats_.scanned_to = start;
    stats_.checkpoint = start;
    stats_.head = std::max(head, start);
    stats_.lag_events = stats_.head - start;
    saved_ = start;
    if (options_.workers > 1) {
      slots_.resize(options_.workers);
      for (size_t i = 0; i < options_.workers; ++i) {
        workers_.emplace_back([this, i] { WorkerLoop(i); });
      }
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~SubscriptionImpl() override { (void)Stop(); }

  Status Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return stop_status_;
      stopping_ = true;
    }
    cv_.notify_all();
    // A live subscription sleeps in WaitForCommit: end that wait now
    // rather than after safety_poll.
    stop_wait_.store(true, std::memory_order_seq_cst);
    journal_.WakeCommitWaiters();
    if (thread_.joinable()) thread_.join();
    {
      std::lock_guard<std::mutex> lock(work_mu_);
      workers_exit_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& w : workers_) w.join();
    workers_.clear();
    Status saved = SaveCheckpoint();
    std::lock_guard<std::mutex> lock(mu_);
    stop_status_ = saved;
    stopped_ = true;
    cv_.notify_all();
    return saved;
  }

  Status WaitFor(uint64_t position,
                 std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    auto target = wait_targets_.insert(position);
    const bool reached = cv_.wait_for(lock, timeout, [&] {
      return stats_.scanned_to >= position || failed_ || stopped_;
    });
    wait_targets_.erase(target);
    if (stats_.scanned_to >= position) return Status::OK();
    if (failed_) return stats_.cause;
    if (stopped_) {
      return Status::Closed(
          fmt::format("subscription '{}' was stopped at position {}, before {}",
                      options_.name, stats_.scanned_to, position));
    }
    (void)reached;
    return Status::Timeout(fmt::format(
        "subscription '{}' has handled up to position {}, not yet {}",
        options_.name, stats_.scanned_to, position));
  }

  SubscriptionStats Stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    SubscriptionStats out = stats_;
    out.lag_seconds = LagSeconds(out.lag_events, examined_ns_);
    return out;
  }

 private:
  bool stopping() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

  // Sleeps up to `d`; false when Stop interrupted it.
  bool Pause(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu_);
    return !cv_.wait_for(lock, d, [&] { return stopping_; });
  }

  void SetState(SubscriptionStats::State state) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stats_.state != SubscriptionStats::State::kStopped) {
      stats_.state = state;
    }
  }

  void Fail(Status cause) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.state = SubscriptionStats::State::kStopped;
    stats_.cause = std::move(cause);
    failed_ = true;
    cv_.notify_all();
  }

  // Records progress and the state it leaves the subscription in, together,
  // so that a WaitFor that returns sees both.
  void Advance(uint64_t scanned_to, uint64_t head,
               SubscriptionStats::State state) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stats_.state != SubscriptionStats::State::kStopped) {
      stats_.state = state;
    }
    stats_.scanned_to = std::max(stats_.scanned_to, scanned_to);
    stats_.head = std::max({stats_.head, head, stats_.scanned_to});
    stats_.lag_events = stats_.head - stats_.scanned_to;
    // Only when a WaitFor is answered: catching up, a wake-up per batch
    // would cost a waiting thread a context switch every batch.
    if (!wait_targets_.empty() && *wait_targets_.begin() <= stats_.scanned_to) {
      cv_.notify_all();
    }
  }

  // One call of the handler; a throw is a failure like a non-OK Status.
  Status Call(std::span<const EventView> events, uint64_t scanned_to,
              bool live) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.batches;
      stats_.delivered += events.size();
    }
    try {
      return handler_(Batch{events, scanned_to, live});
    } catch (...) {
      return Status::Failed(Describe(std::current_exception()));
    }
  }

  // Delivers one event with the failure policy. False: the subscription
  // stopped (on the policy, or because Stop interrupted a backoff).
  bool DeliverOne(const EventView& e, uint64_t scanned_to, bool live) {
    std::chrono::milliseconds backoff = options_.on_failure.backoff_initial;
    Status s = Call(std::span<const EventView>(&e, 1), scanned_to, live);
    for (int attempt = 0; !s.ok() && attempt < options_.on_failure.retries;
         ++attempt) {
      SetState(SubscriptionStats::State::kRetrying);
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.retries;
      }
      if (!Pause(backoff)) return false;
      backoff = std::min(backoff * 2, options_.on_failure.backoff_max);
      s = Call(std::span<const EventView>(&e, 1), scanned_to, live);
    }
    if (s.ok()) return true;
    if (options_.on_failure.then == OnFailure::kSkip) {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.skipped;
      return true;
    }
    if (parking()) {
      if (!Park(e, s.ToString(), /*behind=*/false)) return false;
      if (options_.on_failure.then == OnFailure::kParkStream) {
        std::lock_guard<std::mutex> lock(parked_mu_);
        parked_streams_.insert(std::string(e.stream));
      }
      return true;
    }
    Fail(Status::Failed(
        fmt::format("subscription '{}' stopped at position {} (stream '{}' "
                    "seq {}, type '{}') after {} attempts; the handler said: "
                    "{}",
                    options_.name, e.position, e.stream, e.seq, e.type,
                    options_.on_failure.retries + 1, s.ToString())));
    return false;
  }

  // Delivers a batch; a failed batch of several events is delivered again
  // one event at a time. False: the subscription stopped.
  // With `advance`, progress is recorded event by event as they are
  // delivered one at a time (one worker); a worker leaves that to the
  // subscription thread, which advances once every worker is done.
  // `batch_failed`: the whole batch was handed over once already and
  // failed, so go straight to one event at a time.
  bool Deliver(std::span<const EventView> events, uint64_t scanned_to,
               bool live, bool advance = true, bool batch_failed = false) {
    const bool blocked = AnyParkedStream(events);
    if (!blocked && !batch_failed) {
      if (events.size() == 1) return DeliverOne(events[0], scanned_to, live);
      if (Call(events, scanned_to, live).ok()) return true;
    }
    for (size_t i = 0; i < events.size(); ++i) {
      const bool last = i + 1 == events.size();
      const EventView& e = events[i];
      if (IsParkedStream(e.stream)) {
        // Behind a parked event of its stream: parked too, in order.
        if (!Park(e,
                  fmt::format("waits behind an earlier parked event of "
                              "stream '{}'",
                              e.stream),
                  /*behind=*/true)) {
          return false;
        }
      } else if (!DeliverOne(e, last ? scanned_to : e.position, live && last)) {
        return false;
      }
      if (advance) {
        Advance(last ? scanned_to : events[i].position, 0,
                live && last ? SubscriptionStats::State::kLive
                             : SubscriptionStats::State::kCatchingUp);
      }
    }
    return true;
  }

  // One lock for the batch, not one per event (a catch-up spent a sixth
  // of its time here).
  bool AnyParkedStream(std::span<const EventView> events) {
    std::lock_guard<std::mutex> lock(parked_mu_);
    if (parked_streams_.empty()) return false;
    return std::any_of(events.begin(), events.end(), [&](const EventView& e) {
      return parked_streams_.count(std::string(e.stream)) != 0;
    });
  }

  bool IsParkedStream(std::string_view stream) {
    std::lock_guard<std::mutex> lock(parked_mu_);
    return !parked_streams_.empty() &&
           parked_streams_.count(std::string(stream)) != 0;
  }

  // Several workers: the slice's events go to worker StreamPartition(stream,
  // workers), so each stream stays in order on one worker, and the slice
  // counts as delivered only when every worker is done with its share:
  // progress never passes an event that some worker has not finished.
  bool DeliverParallel(std::span<const EventView> events, bool live) {
    std::unique_lock<std::mutex> lock(work_mu_);
    for (WorkerSlot& slot : slots_) {
      slot.events.clear();
      slot.ok = true;
    }
    for (const EventView& e : events) {
      slots_[StreamPartition(e.stream, static_cast<uint32_t>(slots_.size()))]
          .events.push_back(e);
    }
    pending_ = 0;
    for (WorkerSlot& slot : slots_) {
      slot.live = live;
      slot.busy = !slot.events.empty();
      pending_ += slot.busy ? 1 : 0;
    }
    work_cv_.notify_all();
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    return std::all_of(slots_.begin(), slots_.end(),
                       [](const WorkerSlot& s) { return s.ok; });
  }

  void WorkerLoop(size_t i) {
    std::unique_lock<std::mutex> lock(work_mu_);
    for (;;) {
      work_cv_.wait(lock, [&] { return workers_exit_ || slots_[i].busy; });
      if (!slots_[i].busy) return;  // told to exit, nothing left to do
      const std::vector<EventView> events = slots_[i].events;
      const bool live = slots_[i].live;
      lock.unlock();
      const bool ok = Deliver(events, events.back().position, live,
                              /*advance=*/false);
      lock.lock();
      slots_[i].ok = ok;
      slots_[i].busy = false;
      if (--pending_ == 0) done_cv_.notify_all();
    }
  }

  bool parking() const {
    return options_.on_failure.then == OnFailure::kParkEvent ||
           options_.on_failure.then == OnFailure::kParkStream;
  }

  // Parks `e`; false (the subscription failed) when that fails.
  bool Park(const EventView& e, std::string error, bool behind) {
    ParkedEvent p;
    p.position = e.position;
    p.stream = std::string(e.stream);
    p.seq = e.seq;
    p.type = std::string(e.type);
    p.error = std::move(error);
    p.behind = behind;
    Status s = options_.checkpoints->Park(options_.name, p);
    if (!s.ok()) {
      Fail(s.WithContext(fmt::format("subscription '{}'", options_.name)));
      return false;
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.parked;
    return true;
  }

 public:
  // Start: the streams parked before (kParkStream), and how many events.
  void SetParked(const std::vector<ParkedEvent>& parked) {
    std::lock_guard<std::mutex> parked_lock(parked_mu_);
    parked_streams_.clear();
    for (const ParkedEvent& p : parked) {
      if (options_.on_failure.then == OnFailure::kParkStream) {
        parked_streams_.insert(p.stream);
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    stats_.parked = parked.size();
  }

  Status RetryParked() override {
    if (!parking()) {
      return Status::InvalidArgument(fmt::format(
          "subscription '{}' does not park events (its policy is not "
          "kParkEvent or kParkStream)",
          options_.name));
    }
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t ticket = ++retry_asked_;
    cv_.notify_all();
    cv_.wait(lock,
             [&] { return retry_done_ >= ticket || stopping_ || failed_; });
    if (retry_done_ >= ticket) return retry_status_;
    if (failed_) return stats_.cause;
    return Status::Closed(fmt::format(
        "subscription '{}' stopped before retrying its parked events",
        options_.name));
  }

 private:
  // The newest RetryParked request not yet served, or 0. A request made
  // while a retry runs gets a pass of its own.
  uint64_t RetryAsked() {
    std::lock_guard<std::mutex> lock(mu_);
    return retry_asked_ > retry_done_ ? retry_asked_ : 0;
  }

  // On the subscription's thread: RetryParked's work.
  Status RunRetry() {
    Result<std::vector<ParkedEvent>> parked =
        options_.checkpoints->Parked(options_.name);
    if (!parked.ok()) return parked.status();
    std::set<std::string> failed_streams;
    size_t failed = 0;
    Status first;
    const uint64_t scanned_to = Stats().scanned_to;
    for (const ParkedEvent& p : *parked) {
      if (failed_streams.count(p.stream) != 0) continue;
      buffer_.Clear();
      Status read = journal_.ScanAll(p.position, 1, [&](const EventView& e) {
        if (e.position == p.position) buffer_.Add(e);
        return false;
      });
      if (!read.ok()) return read;
      Status s;
      if (!buffer_.empty()) {
        std::span<const EventView> one = buffer_.Views();
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.batches;
          ++stats_.delivered;
        }
        try {
          s = handler_(Batch{one, scanned_to, false, /*parked_retry=*/true});
        } catch (...) {
          s = Status::Failed(Describe(std::current_exception()));
        }
      }  // else: deleted since (a forced DeleteTo): nothing to deliver
      if (!s.ok()) {
        failed_streams.insert(p.stream);
        if (failed++ == 0) {
          first = Status::Failed(
              fmt::format("position {} (stream '{}' seq {}): {}", p.position,
                          p.stream, p.seq, s.ToString()));
        }
        continue;
      }
      Status unparked = options_.checkpoints->Unpark(options_.name, p.position);
      if (!unparked.ok()) return unparked;
    }
    Result<std::vector<ParkedEvent>> left =
        options_.checkpoints->Parked(options_.name);
    if (!left.ok()) return left.status();
    SetParked(*left);
    if (failed == 0) return Status::OK();
    return Status::Failed(fmt::format(
        "subscription '{}': {} of {} parked events failed again and stay "
        "parked; the first at {}",
        options_.name, failed, parked->size(), first.message()));
  }

  void FinishRetry(Status s, uint64_t ticket) {
    std::lock_guard<std::mutex> lock(mu_);
    retry_status_ = std::move(s);
    retry_done_ = ticket;
    cv_.notify_all();
  }

  Status SaveCheckpoint() {
    if (options_.checkpoints == nullptr) return Status::OK();
    uint64_t to = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      to = stats_.scanned_to;
    }
    if (to <= saved_) return Status::OK();
    Status s = options_.checkpoints->Save(options_.name, to);
    if (!s.ok()) return s;
    saved_ = to;
    since_save_ = 0;
    last_save_ = Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    stats_.checkpoint = to;
    return s;
  }

  // Reads the next slice after `position`. Returns the last position
  // examined and whether the slice reached the committed end. With one
  // worker and zero_copy, the slice's matching events are handed to the
  // handler as views into the read, before it ends (`handed`); what that
  // does not settle (a single event, a parked stream, a failed batch) is
  // copied into buffer_ for Deliver, as without zero_copy.
  struct Slice {
    uint64_t scanned_to = 0;
    uint64_t head = 0;
    bool live = false;
    int64_t examined_ns = 0;    // commit time of the last event examined
    uint64_t examined = 0;      // events read
    size_t handed = 0;          // events the handler took inside the read
    bool batch_failed = false;  // ... or refused as one batch
  };
  Result<Slice> Read(uint64_t position) {
    // The head first: the scan's snapshot is at least as new, so a short
    // scan examined every position up to it (positions are assigned in
    // commit order with no gaps in flight).
    Result<uint64_t> head = journal_.LastPosition();
    if (!head.ok()) return head.status();
    buffer_.Clear();
    views_.clear();
    const bool direct = options_.zero_copy && slots_.empty();
    size_t examined = 0;
    uint64_t last = position;
    int64_t examined_ns = 0;
    Slice out;
    auto visit = [&](const EventView& e) {
      ++examined;
      last = e.position;
      examined_ns = e.timestamp_ns;
      if (options_.filter.Matches(e)) {
        if (direct) {
          views_.push_back(e);
        } else {
          buffer_.Add(e);
        }
      }
      return true;
    };
    auto finish = [&] {
      out.examined_ns = examined_ns;
      out.examined = examined;
      out.live = examined < options_.max_batch;
      out.scanned_to = out.live ? std::max(last, *head) : last;
      out.head = std::max(*head, out.scanned_to);
      CountGone(position, out);
    };
    if (!direct) {
      Status s = journal_.ScanAll(position + 1, options_.max_batch, visit);
      if (!s.ok()) return s;
      finish();
      return out;
    }
    Status s =
        journal_.ScanAllThen(position + 1, options_.max_batch, visit, [&] {
          finish();
          if (views_.size() > 1 && !AnyParkedStream(views_)) {
            if (Call(views_, out.scanned_to, out.live).ok()) {
              out.handed = views_.size();
              return;
            }
            out.batch_failed = true;
          }
          for (const EventView& e : views_) buffer_.Add(e);
        });
    if (!s.ok()) return s;
    return out;
  }

  // Positions are dense: every one passed without an event held a deleted
  // one. Counted before the handler sees the slice, so that whoever waits
  // for it finds the count complete.
  void CountGone(uint64_t position, const Slice& slice) {
    const uint64_t passed =
        slice.scanned_to > position ? slice.scanned_to - position : 0;
    std::lock_guard<std::mutex> lock(mu_);
    if (passed > slice.examined) stats_.gone += passed - slice.examined;
  }

  void Run() {
    uint64_t position = Stats().scanned_to;
    while (!stopping()) {
      if (const uint64_t ticket = RetryAsked(); ticket != 0) {
        FinishRetry(RunRetry(), ticket);
      }
      Result<Slice> slice = Read(position);
      if (!slice.ok()) {
        Fail(slice.status().WithContext(
            fmt::format("subscription '{}' reading after position {}",
                        options_.name, position)));
        return;
      }
      const SubscriptionStats::State state =
          slice->live ? SubscriptionStats::State::kLive
                      : SubscriptionStats::State::kCatchingUp;
      since_save_ += slice->handed;
      if (!buffer_.empty()) {
        std::span<const EventView> events = buffer_.Views();
        const bool delivered =
            slots_.empty() ? Deliver(events, slice->scanned_to, slice->live,
                                     /*advance=*/true, slice->batch_failed)
                           : DeliverParallel(events, slice->live);
        if (!delivered) return;
        since_save_ += events.size();
      }
      Advance(slice->scanned_to, slice->head, state);
      if (slice->examined_ns != 0) {
        std::lock_guard<std::mutex> lock(mu_);
        examined_ns_ = slice->examined_ns;
      }
      position = slice->scanned_to;
      if (slice->live || since_save_ >= options_.checkpoint_every_events ||
          Clock::now() - last_save_ >= options_.checkpoint_every) {
        Status saved = SaveCheckpoint();
        if (!saved.ok()) {
          Fail(saved.WithContext(
              fmt::format("subscription '{}'", options_.name)));
          return;
        }
      }
      if (slice->live) {
        Result<uint64_t> next =
            journal_.WaitForCommit(position, options_.safety_poll, &stop_wait_);
        if (!next.ok()) {
          Fail(next.status().WithContext(
              fmt::format("subscription '{}' waiting for commits after "
                          "position {}",
                          options_.name, position)));
          return;
        }
      }
    }
  }

  Journal& journal_;
  const SubscriptionOptions options_;
  const Handler handler_;
  BatchBuffer buffer_;
  std::vector<EventView> views_;  // a zero-copy slice; valid in its read
  // Subscription thread only (and Stop, after the join).
  uint64_t saved_ = 0;
  uint64_t since_save_ = 0;
  Clock::time_point last_save_ = Clock::now();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  SubscriptionStats stats_;
  int64_t examined_ns_ = 0;               // see Slice::examined_ns
  std::multiset<uint64_t> wait_targets_;  // positions WaitFor calls wait for
  std::atomic<bool> stop_wait_{false};    // Stop ends WaitForCommit
  bool stopping_ = false;
  bool stopped_ = false;
  bool failed_ = false;
  uint64_t retry_asked_ = 0;
  uint64_t retry_done_ = 0;
  Status retry_status_;
  // Streams whose later events wait (kParkStream); workers read it.
  std::mutex parked_mu_;
  std::set<std::string> parked_streams_;
  // Several workers (options_.workers > 1).
  struct WorkerSlot {
    std::vector<EventView> events;  // views into buffer_, for one slice
    bool live = false;
    bool busy = false;  // has a share to deliver
    bool ok = true;
  };
  std::mutex work_mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::vector<WorkerSlot> slots_;
  size_t pending_ = 0;
  bool workers_exit_ = false;
  std::vector<std::thread> workers_;
  Status stop_status_;
  std::thread thread_;
};

}  // namespace

bool EventFilter::Matches(const EventView& e) const {
  if (!types.empty() && !AnyEquals(types, e.type)) return false;
  if (!stream_prefixes.empty() &&
      std::none_of(stream_prefixes.begin(), stream_prefixes.end(),
                   [&](const std::string& p) {
                     return e.stream.substr(0, p.size()) == p;
                   })) {
    return false;
  }
  if (!tags.empty() &&
      std::none_of(e.tags.begin(), e.tags.end(),
                   [&](std::string_view t) { return AnyEquals(tags, t); })) {
    return false;
  }
  return partitions <= 1 || StreamPartition(e.stream, partitions) == partition;
}

double LagSeconds(uint64_t lag_events, int64_t examined_ns) {
  if (lag_events == 0 || examined_ns == 0) return 0;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return now > examined_ns ? double(now - examined_ns) / 1e9 : 0;
}

uint32_t StreamPartition(std::string_view stream, uint32_t partitions) {
  if (partitions <= 1) return 0;
  // FNV-1a, 64-bit: fixed here forever, as partitions are stored by users.
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : stream) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<uint32_t>(h % partitions);
}

Result<std::unique_ptr<Subscription>> Subscription::Start(
    Store& store, SubscriptionOptions options, Handler handler) {
  Status valid = ValidateStreamName(options.name);
  if (!valid.ok()) {
    return Status::InvalidArgument(
        fmt::format("subscription name: {}", valid.message()));
  }
  if (options.workers == 0 || options.workers > 64) {
    return Status::InvalidArgument(
        fmt::format("subscription '{}': workers must be 1 to 64, not {}",
                    options.name, options.workers));
  }
  if (options.max_batch == 0) {
    return Status::InvalidArgument(fmt::format(
        "subscription '{}': max_batch must be at least 1", options.name));
  }
  if (options.filter.partitions == 0 ||
      options.filter.partition >= options.filter.partitions) {
    return Status::InvalidArgument(fmt::format(
        "subscription '{}': partition {} of {} does not exist (partitions "
        "are numbered 0 to partitions - 1)",
        options.name, options.filter.partition, options.filter.partitions));
  }
  if (!handler) {
    return Status::InvalidArgument(
        fmt::format("subscription '{}': no handler", options.name));
  }
  Result<uint64_t> head = store.journal().LastPosition();
  if (!head.ok()) return head.status();
  uint64_t start = options.start.head() ? *head : options.start.position();
  if (options.checkpoints != nullptr) {
    Result<uint64_t> saved = options.checkpoints->Load(options.name);
    if (!saved.ok()) {
      return saved.status().WithContext(fmt::format(
          "subscription '{}' loading its checkpoint", options.name));
    }
    if (*saved > 0) start = *saved;
  }
  std::vector<ParkedEvent> parked;
  if (options.on_failure.then == OnFailure::kParkEvent ||
      options.on_failure.then == OnFailure::kParkStream) {
    if (options.checkpoints == nullptr ||
        !options.checkpoints->SupportsParking()) {
      return Status::InvalidArgument(fmt::format(
          "subscription '{}' parks events but its checkpoint store does "
          "not keep them; use InStoreCheckpoints, or kStop or kSkip",
          options.name));
    }
    Result<std::vector<ParkedEvent>> loaded =
        options.checkpoints->Parked(options.name);
    if (!loaded.ok()) {
      return loaded.status().WithContext(fmt::format(
          "subscription '{}' loading its parked events", options.name));
    }
    parked = std::move(loaded).value();
  }
  return std::unique_ptr<Subscription>(std::make_unique<SubscriptionImpl>(
      store, std::move(options), std::move(handler), start, *head, parked));
}

}  // namespace memoir

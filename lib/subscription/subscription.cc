// Subscription (memoir/subscription.h): a thread that reads the global log
// in batches after its position, hands the matching events to the handler,
// saves its checkpoint, and waits for the next commit when caught up.
#include "memoir/subscription.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

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

// The matching events of one batch, copied out of the read transaction:
// their bytes in one buffer, the views built once the buffer is complete.
class BatchBuffer {
 public:
  void Clear() {
    bytes_.clear();
    events_.clear();
    views_.clear();
    tags_.clear();
  }
  void Add(const EventView& e) {
    Copied c{e,
             Put(e.stream),
             Put(e.type),
             Put(e.payload),
             tag_refs_.size(),
             e.tags.size()};
    for (std::string_view t : e.tags) tag_refs_.push_back(Put(t));
    events_.push_back(c);
  }
  // Views over the buffer; valid until the next Clear or Add.
  std::span<const EventView> Views() {
    views_.clear();
    tags_.clear();
    for (const Ref& r : tag_refs_) tags_.push_back(View(r));
    for (const Copied& c : events_) {
      EventView v = c.event;
      v.stream = View(c.stream);
      v.type = View(c.type);
      v.payload = View(c.payload);
      v.tags = std::span<const std::string_view>(tags_.data() + c.first_tag,
                                                 c.tag_count);
      views_.push_back(v);
    }
    tag_refs_.clear();
    return views_;
  }
  bool empty() const { return events_.empty(); }

 private:
  struct Ref {
    size_t offset, size;
  };
  struct Copied {
    EventView event;
    Ref stream, type, payload;
    size_t first_tag, tag_count;
  };
  Ref Put(std::string_view s) {
    Ref r{bytes_.size(), s.size()};
    bytes_.append(s);
    return r;
  }
  std::string_view View(const Ref& r) const {
    return std::string_view(bytes_).substr(r.offset, r.size);
  }

  std::string bytes_;
  std::vector<Copied> events_;
  std::vector<Ref> tag_refs_;
  std::vector<EventView> views_;
  std::vector<std::string_view> tags_;
};

class SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(Store& store, SubscriptionOptions options, Handler handler,
                   uint64_t start, uint64_t head)
      : journal_(store.journal()),
        options_(std::move(options)),
        handler_(std::move(handler)) {
    stats_.scanned_to = start;
    stats_.checkpoint = start;
    stats_.head = std::max(head, start);
    stats_.lag_events = stats_.head - start;
    saved_ = start;
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
    if (thread_.joinable()) thread_.join();
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
    const bool reached = cv_.wait_for(lock, timeout, [&] {
      return stats_.scanned_to >= position || failed_ || stopped_;
    });
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
    return stats_;
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
    cv_.notify_all();
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
  bool Deliver(std::span<const EventView> events, uint64_t scanned_to,
               bool live) {
    if (events.size() == 1) return DeliverOne(events[0], scanned_to, live);
    if (Call(events, scanned_to, live).ok()) return true;
    for (size_t i = 0; i < events.size(); ++i) {
      const bool last = i + 1 == events.size();
      if (!DeliverOne(events[i], last ? scanned_to : events[i].position,
                      live && last)) {
        return false;
      }
      Advance(last ? scanned_to : events[i].position, 0,
              live && last ? SubscriptionStats::State::kLive
                           : SubscriptionStats::State::kCatchingUp);
    }
    return true;
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

  // Reads the next slice after `position` into buffer_. Returns the last
  // position examined and whether the slice reached the committed end.
  struct Slice {
    uint64_t scanned_to = 0;
    uint64_t head = 0;
    bool live = false;
  };
  Result<Slice> Read(uint64_t position) {
    // The head first: the scan's snapshot is at least as new, so a short
    // scan examined every position up to it (positions are assigned in
    // commit order with no gaps in flight).
    Result<uint64_t> head = journal_.LastPosition();
    if (!head.ok()) return head.status();
    buffer_.Clear();
    size_t examined = 0;
    uint64_t last = position;
    Status s = journal_.ScanAll(position + 1, options_.max_batch,
                                [&](const EventView& e) {
                                  ++examined;
                                  last = e.position;
                                  if (options_.filter.Matches(e)) {
                                    buffer_.Add(e);
                                  }
                                  return true;
                                });
    if (!s.ok()) return s;
    Slice out;
    out.live = examined < options_.max_batch;
    out.scanned_to = out.live ? std::max(last, *head) : last;
    out.head = std::max(*head, out.scanned_to);
    return out;
  }

  void Run() {
    uint64_t position = Stats().scanned_to;
    while (!stopping()) {
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
      if (!buffer_.empty()) {
        std::span<const EventView> events = buffer_.Views();
        if (!Deliver(events, slice->scanned_to, slice->live)) return;
        since_save_ += events.size();
      }
      Advance(slice->scanned_to, slice->head, state);
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
            journal_.WaitForCommit(position, options_.safety_poll);
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
  // Subscription thread only (and Stop, after the join).
  uint64_t saved_ = 0;
  uint64_t since_save_ = 0;
  Clock::time_point last_save_ = Clock::now();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  SubscriptionStats stats_;
  bool stopping_ = false;
  bool stopped_ = false;
  bool failed_ = false;
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
  return std::unique_ptr<Subscription>(std::make_unique<SubscriptionImpl>(
      store, std::move(options), std::move(handler), start, *head));
}

}  // namespace memoir

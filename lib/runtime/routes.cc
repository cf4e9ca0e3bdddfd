// Routes (runtime/routes.h, memoir/route.h).
#include "runtime/routes.h"

#include <fmt/format.h>

#include <atomic>
#include <utility>

#include "memoir/detail/behavior.h"

namespace memoir::internal {
namespace {

constexpr std::string_view kProgressType = "memoir.RouteProgress";
constexpr std::string_view kRoutePrefix = "$route-";
// A batch that routes nothing records its progress once this many
// positions passed since the last record.
constexpr uint64_t kIdleRecordEvery = 10'000;
// Progress events older than the newest are deleted once this many are
// kept (counted from the stream, not from this start, so that short runs
// do not pile them up).
constexpr uint64_t kDeleteEvery = 64;

std::string ProgressPayload(uint64_t position) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>((position >> (8 * i)) & 0xff);
  }
  return out;
}

bool ParseProgress(std::string_view payload, uint64_t* position) {
  if (payload.size() != 8) return false;
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(payload[i]);
  }
  *position = v;
  return true;
}

}  // namespace

class RouteImpl final : public Route {
 public:
  RouteImpl(Store& store, MessageStore& messages,
            std::shared_ptr<RouteRegistry> registry, detail::RouteSpec spec,
            std::function<void(std::vector<StoredMessage>)> sent,
            std::function<void(const std::string&)> log, uint64_t head,
            uint64_t progress)
      : store_(store),
        messages_(messages),
        registry_(std::move(registry)),
        spec_(std::move(spec)),
        stream_(std::string(kRoutePrefix) + spec_.name),
        sent_(std::move(sent)),
        log_(std::move(log)),
        head_(head),
        recorded_(progress),
        progress_(progress) {}

  ~RouteImpl() override {
    (void)Stop();
    if (registered_) registry_->Remove(spec_.name);
  }

  const std::string& name() const { return spec_.name; }
  void set_registered() { registered_ = true; }

  Status Begin(uint64_t after, bool resumed) {
    SubscriptionOptions o;
    o.name = stream_;
    o.filter = spec_.filter;
    o.start = resumed ? StartAt::After(after) : spec_.start;
    o.max_batch = spec_.max_batch;
    o.on_failure = spec_.on_failure;
    Result<std::unique_ptr<Subscription>> sub = Subscription::Start(
        store_, std::move(o), [this](const Batch& b) { return Handle(b); });
    if (!sub.ok()) return sub.status();
    std::lock_guard lock(mu_);
    sub_ = std::move(sub).value();
    return Status::OK();
  }

  Status Stop() override {
    // One at a time: a second Stop returns only once the first has stopped
    // the handler, so a shutdown never outruns a route still committing.
    std::lock_guard stopping(stop_mu_);
    Subscription* sub = Current();
    return sub == nullptr ? Status::OK() : sub->Stop();
  }

  Status WaitFor(uint64_t position,
                 std::chrono::milliseconds timeout) override {
    Subscription* sub = Current();
    if (sub == nullptr) return Status::Closed("the route was stopped");
    return sub->WaitFor(position, timeout);
  }

  RouteStats Stats() const override {
    RouteStats s;
    if (Subscription* sub = Current()) s.subscription = sub->Stats();
    s.routed = routed_.load();
    s.commits = commits_.load();
    s.progress = progress_.load();
    return s;
  }

 private:
  Subscription* Current() const {
    std::lock_guard lock(mu_);
    return sub_.get();
  }

  Status Handle(const Batch& batch) {
    std::vector<OutgoingMessage> out;
    for (const EventView& e : batch.events) {
      // memoir's own streams (routes' progress, dead letters) are not
      // routed.
      if (e.stream.starts_with('$')) continue;
      std::optional<OutgoingMessage> m;
      try {
        m = spec_.route(e);
      } catch (...) {
        return Status::Failed(
            fmt::format("the routing function of route '{}' threw {}",
                        spec_.name, detail::DescribeCurrentException()));
      }
      if (!m) continue;
      m->with_event = 0;
      out.push_back(std::move(*m));
    }
    const uint64_t to = batch.parked_retry ? recorded_ : batch.scanned_to;
    if (out.empty() && to < recorded_ + kIdleRecordEvery) return Status::OK();
    MessageCommit c;
    c.append.stream = stream_;
    c.append.expected = Expected::At(head_);
    c.append.events.push_back(
        EventData{std::string(kProgressType), ProgressPayload(to), 1, {}});
    const size_t count = out.size();
    c.send = std::move(out);
    Result<MessageCommitResult> r = messages_.Commit(std::move(c));
    if (!r.ok()) {
      if (r.status().IsConflict()) {
        return r.status().WithContext(fmt::format(
            "route '{}': its stream '{}' was written by someone else (another "
            "route of the same name in another process?); it stops rather "
            "than route twice",
            spec_.name, stream_));
      }
      return r.status().WithContext(
          fmt::format("route '{}' committing {} commands", spec_.name, count));
    }
    head_ = r->append.last_seq;
    recorded_ = to;
    progress_.store(to);
    routed_.fetch_add(r->sent.size());
    commits_.fetch_add(1);
    if (!r->sent.empty()) sent_(std::move(r->sent));
    // deleted_to_ is 0 after a start: the first commit that finds 64 or
    // more events since seq 0 deletes (once) whatever earlier runs kept.
    if (head_ - deleted_to_ >= kDeleteEvery) {
      deleted_to_ = head_ - 1;
      Status s = store_.journal().DeleteTo(stream_, head_ - 1);
      if (!s.ok() && !s.IsBusy()) {
        log_(fmt::format("route '{}': deleting old progress of '{}': {}",
                         spec_.name, stream_, s.ToString()));
      }
    }
    return Status::OK();
  }

  Store& store_;
  MessageStore& messages_;
  const std::shared_ptr<RouteRegistry> registry_;
  const detail::RouteSpec spec_;
  const std::string stream_;
  const std::function<void(std::vector<StoredMessage>)> sent_;
  const std::function<void(const std::string&)> log_;
  // The route's thread only.
  uint64_t head_;
  uint64_t recorded_;
  uint64_t deleted_to_ = 0;  // progress events up to here are deleted
  std::atomic<uint64_t> progress_;
  std::atomic<uint64_t> routed_{0};
  std::atomic<uint64_t> commits_{0};
  bool registered_ = false;
  std::mutex stop_mu_;
  mutable std::mutex mu_;
  std::unique_ptr<Subscription> sub_;  // mu_; set once, by Begin
};

Status RouteRegistry::AddAndBegin(RouteImpl* route,
                                  const std::function<Status()>& begin) {
  // Under the lock, so that Close stops every route that began.
  std::lock_guard lock(mu_);
  if (closed_) return Status::Closed("the actor system is shut down");
  if (routes_.count(route->name())) {
    return Status::InvalidArgument(fmt::format(
        "route '{}' is already running in this actor system", route->name()));
  }
  if (Status s = begin(); !s.ok()) return s;
  routes_.emplace(route->name(), route);
  route->set_registered();
  return Status::OK();
}

void RouteRegistry::Remove(const std::string& name) {
  std::lock_guard lock(mu_);
  routes_.erase(name);
}

void RouteRegistry::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  // A route being destroyed waits for this lock before it stops itself, so
  // each is alive while stopped here.
  for (auto& [name, route] : routes_) (void)route->Stop();
}

Result<std::unique_ptr<Route>> StartRoute(
    Store& store, MessageStore& messages,
    std::shared_ptr<RouteRegistry> registry, detail::RouteSpec spec,
    std::function<void(std::vector<StoredMessage>)> sent,
    std::function<void(const std::string&)> log) {
  const std::string stream = std::string(kRoutePrefix) + spec.name;
  if (spec.name.empty()) {
    return Status::InvalidArgument("a route needs a name");
  }
  if (Status s = ValidateStreamName(stream); !s.ok()) {
    return Status::InvalidArgument(
        fmt::format("route name '{}': {}", spec.name, s.message()));
  }
  if (spec.max_batch == 0 || spec.max_batch > kMaxMessagesPerCommit) {
    return Status::InvalidArgument(
        fmt::format("route '{}': max_batch {} is not within 1 to {}", spec.name,
                    spec.max_batch, kMaxMessagesPerCommit));
  }
  if (!spec.route) {
    return Status::InvalidArgument(
        fmt::format("route '{}' has no routing function", spec.name));
  }
  if (spec.on_failure.then != OnFailure::kStop) {
    // Skipping or parking would let a batch that failed to commit be
    // passed over by the next one's progress: its commands lost.
    return Status::InvalidArgument(fmt::format(
        "route '{}': on_failure.then must be kStop (to pass over an event, "
        "return no command for it from the routing function)",
        spec.name));
  }
  // Its progress: the newest event of its stream.
  Result<uint64_t> head = store.journal().Head(stream);
  if (!head.ok()) {
    return head.status().WithContext(
        fmt::format("route '{}' reading its progress", spec.name));
  }
  uint64_t progress = 0;
  if (*head > 0) {
    bool parsed = false;
    ReadOptions last;
    last.from_seq = *head;
    Status s = store.journal().Scan(stream, last, [&](const EventView& e) {
      parsed = e.type == kProgressType && ParseProgress(e.payload, &progress);
      return false;
    });
    if (!s.ok()) {
      return s.WithContext(
          fmt::format("route '{}' reading its progress", spec.name));
    }
    if (!parsed) {
      return Status::Corruption(fmt::format(
          "route '{}': the newest event of '{}' (seq {}) is not a progress "
          "record; that stream is the route's own and must not be written "
          "by anything else",
          spec.name, stream, *head));
    }
  }
  uint64_t head_seq = *head;
  if (head_seq == 0 && spec.start.head()) {
    // "From the head" is resolved once and recorded: a restart before the
    // first batch that routes something must not resolve it again later,
    // past the events committed in between.
    Result<uint64_t> last = store.journal().LastPosition();
    if (!last.ok()) {
      return last.status().WithContext(
          fmt::format("route '{}' reading the head", spec.name));
    }
    MessageCommit c;
    c.append = {
        stream,
        Expected::At(0),
        {EventData{std::string(kProgressType), ProgressPayload(*last), 1, {}}}};
    Result<MessageCommitResult> r = messages.Commit(std::move(c));
    if (!r.ok()) {
      return r.status().WithContext(
          fmt::format("route '{}' recording where it starts", spec.name));
    }
    head_seq = r->append.last_seq;
    progress = *last;
  }
  auto route = std::make_unique<RouteImpl>(store, messages, registry,
                                           std::move(spec), std::move(sent),
                                           std::move(log), head_seq, progress);
  RouteImpl* r = route.get();
  const bool resumed = head_seq > 0;
  Status s = registry->AddAndBegin(
      r, [r, progress, resumed] { return r->Begin(progress, resumed); });
  if (!s.ok()) return s;
  return std::unique_ptr<Route>(std::move(route));
}

}  // namespace memoir::internal

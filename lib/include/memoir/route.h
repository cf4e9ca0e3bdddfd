// Routes: event-driven process managers. A route reads the journal's
// global log (a Subscription), turns the events it matches into commands
// for actors (a routing function: event -> optional (actor id, command)),
// and sends them as durable messages (Effect::Send's delivery), so that a
// workflow keyed by a correlation id starts, continues and ends on events
// of other streams, survives restarts, and sees each routed event once.
//
//   memoir::RouteOptions<Transfer> route;
//   route.name = "transfers";
//   route.filter.types = {"TransferRequested", "Debited", "Credited"};
//   route.route = [](const memoir::EventView& e)
//       -> std::optional<memoir::Routed<Transfer>> {
//     return memoir::Routed<Transfer>{TransferIdOf(e), CommandFor(e)};
//   };
//   auto transfers = system->StartRoute(std::move(route)).value();
//
// Exactly once. A route keeps its progress in a stream of its own,
// "$route-<name>": each batch of routed commands is written to the outbox
// in the transaction that appends one event to that stream recording the
// position examined, expecting the stream's head. The commands and the
// progress therefore commit together or not at all: after a crash the
// route starts after the last recorded position, and the commands routed
// before it wait in the outbox or were delivered; none is routed twice,
// none lost. Each command's delivery id is (route stream, seq of that
// event, place), so the receiving actor takes it once, in order with the
// route's other commands to it. A batch that routes nothing records its
// progress only now and then (every 10,000 positions), since examining
// those events again routes nothing. Older progress events are deleted as
// the route goes.
//
// The routing function runs on the route's thread, one event at a time,
// in commit order; it must be deterministic (after a crash it runs again
// on the events after the last recorded position). An exception it
// throws, or a failed commit, is a failure of that event: it is retried
// under `on_failure` (Subscription's rules), and then the route stops
// (Stats().cause names the event); kStop is the only policy a route takes,
// since skipping a batch that failed to commit would lose its commands (to
// pass over an event, return no command for it). Events of streams whose
// names begin with '$' (memoir's own: every route's progress, the dead
// letters) are never routed.
//
// Thread safety: Stop, WaitFor and Stats may be called from any thread but
// the route's.
#ifndef MEMOIR_ROUTE_H_
#define MEMOIR_ROUTE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "memoir/export.h"
#include "memoir/journal.h"
#include "memoir/message_store.h"
#include "memoir/status.h"
#include "memoir/subscription.h"

namespace memoir {

// A command for actor `id` of type Target.
template <typename Target>
struct Routed {
  std::string id;
  typename Target::Command command;
};

template <typename Target>
struct RouteOptions {
  // Names the route and its stream "$route-<name>" (ValidateStreamName's
  // rules); one route of a name per system.
  std::string name;
  EventFilter filter;
  // Where a new route starts; a route that has recorded progress starts
  // after it. Head is resolved once, when the route first starts, and
  // recorded then.
  StartAt start = StartAt::Origin();
  // Log positions examined per batch, and so at most the commands written
  // in one transaction (1 to kMaxMessagesPerCommit).
  size_t max_batch = 1000;
  FailurePolicy on_failure;
  std::function<std::optional<Routed<Target>>(const EventView&)> route;
};

struct RouteStats {
  SubscriptionStats subscription;  // its reading of the log
  uint64_t routed = 0;             // commands written by this route object
  uint64_t commits = 0;            // batches committed
  uint64_t progress = 0;           // the position last recorded
};

class MEMOIR_EXPORT Route {
 public:
  // Stops (as Stop) if still running.
  virtual ~Route() = default;
  // Lets the batch in hand finish, stops. Idempotent.
  virtual Status Stop() = 0;
  // Waits until every event up to `position` was routed (its commands are
  // in the outbox). Errors as Subscription::WaitFor.
  virtual Status WaitFor(uint64_t position,
                         std::chrono::milliseconds timeout) = 0;
  virtual RouteStats Stats() const = 0;
};

namespace detail {

// A route with its types erased (ActorSystem::StartRoute).
struct RouteSpec {
  std::string name;
  EventFilter filter;
  StartAt start = StartAt::Origin();
  size_t max_batch = 1000;
  FailurePolicy on_failure;
  // The message for one event, if any; may throw.
  std::function<std::optional<OutgoingMessage>(const EventView&)> route;
};

}  // namespace detail
}  // namespace memoir

#endif  // MEMOIR_ROUTE_H_

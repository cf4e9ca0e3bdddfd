// Routes (memoir/route.h): a subscription whose batches become durable
// messages, committed with the route's progress in one transaction.
#ifndef MEMOIR_RUNTIME_ROUTES_H_
#define MEMOIR_RUNTIME_ROUTES_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "memoir/message_store.h"
#include "memoir/route.h"
#include "memoir/store.h"

namespace memoir::internal {

class RouteImpl;

// The routes of one system. Shared with each route, so that a route that
// outlives its system's shutdown (or the system itself) finds it closed
// rather than dangling.
class RouteRegistry {
 public:
  // Takes the route's name and runs `begin` (which starts it). Errors:
  // kClosed after Close; kInvalidArgument when the name is taken; those of
  // `begin`.
  Status AddAndBegin(RouteImpl* route, const std::function<Status()>& begin);
  void Remove(const std::string& name);
  // Stops every route and refuses new ones.
  void Close();

 private:
  std::mutex mu_;
  std::map<std::string, RouteImpl*> routes_;
  bool closed_ = false;
};

// Starts a route over `store` and `messages`; `sent` gets the messages of
// each committed batch (for the dispatcher) and `log` reports trouble that
// does not stop the route.
Result<std::unique_ptr<Route>> StartRoute(
    Store& store, MessageStore& messages,
    std::shared_ptr<RouteRegistry> registry, detail::RouteSpec spec,
    std::function<void(std::vector<StoredMessage>)> sent,
    std::function<void(const std::string&)> log);

}  // namespace memoir::internal

#endif  // MEMOIR_RUNTIME_ROUTES_H_

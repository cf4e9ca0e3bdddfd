#include <cstdio>

#include "memoir/actor_system.h"
#include "memoir/store.h"

struct Counter {  // a total that survives crashes; commands are amounts
  static constexpr std::string_view kTypeName = "counter";
  using State = long;
  using Command = long;  // also the event: command sourcing
  using Event = long;
  using Reply = long;
  using EventCodec = memoir::PodCodec<long, "Added">;
  using StateCodec = memoir::PodCodec<long, "Total">;
  memoir::Effect<long, long> Handle(const long& total, const long& n) const {
    if (n <= 0) return memoir::Effect<long, long>::Reject("add more than 0");
    return memoir::Effect<long, long>::Persist(n, total + n);  // event, reply
  }
  void Apply(long& total, const long& n) const { total += n; }
};

int main() {
  auto store = memoir::Store::Open("./counter-store");  // fsync per commit
  if (!store.ok()) return std::puts(store.status().ToString().c_str()), 1;
  auto system = memoir::ActorSystem::Create(**store).value();
  if (!system->Register<Counter>().ok()) return 1;
  auto total = system->Ref<Counter>("c-1").Ask(5).get();  // after the commit
  if (!total.ok()) return std::puts(total.status().ToString().c_str()), 1;
  std::printf("total after a durable commit: %ld\n", *total);
}

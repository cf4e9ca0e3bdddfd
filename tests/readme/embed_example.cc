#include <cstdio>

#include "memoir/actor_system.h"
#include "memoir/store.h"

// A counter whose total survives crashes: commands are amounts to add.
struct Counter {
  static constexpr std::string_view kTypeName = "counter";
  using State = long;    // the total
  using Command = long;  // an amount to add, also the event
  using Event = long;
  using Reply = long;  // the new total
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
  memoir::Result<long> total = system->Ref<Counter>("c-1").Ask(5).get();
  if (!total.ok()) return std::puts(total.status().ToString().c_str()), 1;
  std::printf("total after a durable commit: %ld\n", *total);
}

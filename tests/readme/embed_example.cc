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

int Fail(const memoir::Status& s) {  // each error says what, where, what to do
  std::fprintf(stderr, "%s\n", s.ToString().c_str());
  return 1;
}

int main() {
  auto store = memoir::Store::Open("./counter-store");  // fsync per commit
  if (!store.ok()) return Fail(store.status());
  auto system = memoir::ActorSystem::Create(**store);
  if (!system.ok()) return Fail(system.status());
  if (auto s = (*system)->Register<Counter>(); !s.ok()) return Fail(s);
  auto total = (*system)->Ref<Counter>("counter-1").Ask(5).get();  // durable
  if (!total.ok()) return Fail(total.status());
  std::printf("total after a durable commit: %ld\n", *total);
}

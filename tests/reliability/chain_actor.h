// The actors that crash_child --chain runs and crash_test checks: chains
// of three links, each passing every command on to the next link with a
// durable send (Effect::Send).
#ifndef MEMOIR_TESTS_RELIABILITY_CHAIN_ACTOR_H_
#define MEMOIR_TESTS_RELIABILITY_CHAIN_ACTOR_H_

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "memoir/actor.h"
#include "memoir/codec.h"

namespace memoir::crash {

inline constexpr uint32_t kChains = 4;
inline constexpr uint32_t kLinks = 3;
// An acknowledgement line's number: the chain and the command's number.
inline constexpr uint64_t kChainLane = 1'000'000'000'000;

inline std::string LinkName(uint32_t chain, uint32_t link) {
  return fmt::format("chain-{}-link-{}", chain, link);
}

struct Hop {
  uint64_t n = 0;  // the client's number, growing per chain
  uint32_t chain = 0;
  uint32_t link = 0;
};

struct HopLog {
  uint64_t count = 0;
  uint64_t last = 0;
};

struct ChainLink {
  static constexpr std::string_view kTypeName = "chain-link";
  using State = HopLog;
  using Command = Hop;
  using Event = Hop;
  using Reply = uint64_t;
  using EventCodec = PodCodec<Hop, "Hopped">;
  using CommandCodec = PodCodec<Hop, "Hop">;
  using StateCodec = PodCodec<HopLog, "HopLog">;
  using Fx = Effect<Event, Reply>;

  Fx Handle(const State& s, const Command& c) const {
    Fx fx = Fx::Persist(c, s.count + 1);
    if (c.link + 1 >= kLinks) return fx;
    return std::move(fx).Send<ChainLink>(LinkName(c.chain, c.link + 1),
                                         Hop{c.n, c.chain, c.link + 1});
  }
  void Apply(State& s, const Event& e) const {
    ++s.count;
    s.last = e.n;
  }
};

}  // namespace memoir::crash

#endif  // MEMOIR_TESTS_RELIABILITY_CHAIN_ACTOR_H_

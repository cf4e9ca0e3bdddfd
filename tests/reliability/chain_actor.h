// The actors that crash_child --chain runs and crash_test checks: chains
// of three links, each passing every command on to the next link with a
// durable send (Effect::Send); a route ("ends") that sends every event of
// each chain's last link on to the chain's end actor; and that end actor,
// which starts a durable timer for each command it takes and records the
// timer's firing.
#ifndef MEMOIR_TESTS_RELIABILITY_CHAIN_ACTOR_H_
#define MEMOIR_TESTS_RELIABILITY_CHAIN_ACTOR_H_

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "memoir/actor.h"
#include "memoir/codec.h"
#include "memoir/route.h"

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

inline std::string EndName(uint32_t chain) {
  return fmt::format("chain-{}-end", chain);
}

struct EndNote {
  enum Kind : uint32_t { kRouted, kRang };
  uint64_t n = 0;
  Kind kind = kRouted;
  uint32_t pad = 0;
};

struct EndLog {
  uint64_t routed = 0;
  uint64_t rang = 0;
};

// Records each routed command, with a timer that fires 1 ms later and is
// recorded too: after any crash, each routed n once and each ring once.
struct ChainEnd {
  static constexpr std::string_view kTypeName = "chain-end";
  using State = EndLog;
  using Command = EndNote;
  using Event = EndNote;
  using Reply = uint64_t;
  using EventCodec = PodCodec<EndNote, "Ended">;
  using CommandCodec = PodCodec<EndNote, "End">;
  using StateCodec = PodCodec<EndLog, "EndLog">;
  using Fx = Effect<Event, Reply>;

  Fx Handle(const State& s, const Command& c) const {
    if (c.kind == EndNote::kRang) return Fx::Persist(c, s.rang + 1);
    return Fx::Persist(c, s.routed + 1)
        .StartTimer<ChainEnd>(fmt::format("ring-{}", c.n),
                              std::chrono::milliseconds(1),
                              EndNote{c.n, EndNote::kRang, 0});
  }
  void Apply(State& s, const Event& e) const {
    ++(e.kind == EndNote::kRang ? s.rang : s.routed);
  }
};

// Every event of a chain's last link, to the chain's end actor.
inline RouteOptions<ChainEnd> EndRoute() {
  RouteOptions<ChainEnd> o;
  o.name = "ends";
  o.filter.types = {"Hopped"};
  o.route = [](const EventView& e) -> std::optional<Routed<ChainEnd>> {
    Hop h = ChainLink::EventCodec::Decode(e.type, e.schema_version, e.payload);
    if (h.link + 1 != kLinks) return std::nullopt;
    return Routed<ChainEnd>{EndName(h.chain),
                            EndNote{h.n, EndNote::kRouted, 0}};
  };
  return o;
}

}  // namespace memoir::crash

#endif  // MEMOIR_TESTS_RELIABILITY_CHAIN_ACTOR_H_

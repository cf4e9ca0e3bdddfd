// The durable-state actor that crash_child --durable runs and crash_test
// checks: each command is one revision that counts it.
#ifndef MEMOIR_TESTS_RELIABILITY_DURABLE_TALLY_H_
#define MEMOIR_TESTS_RELIABILITY_DURABLE_TALLY_H_

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "memoir/codec.h"
#include "memoir/durable_state.h"

namespace memoir::crash {

struct Tally {
  uint64_t count = 0;  // commands applied: equals the revision
  uint64_t last = 0;   // the last command's number
};

struct TallyActor {
  static constexpr std::string_view kTypeName = "tally";
  using State = Tally;
  using Command = uint64_t;
  using Reply = Tally;
  using StateCodec = PodCodec<Tally, "Tally">;
  using Fx = StateEffect<State, Reply>;

  Fx Handle(const State& s, const Command& c) const {
    Tally next{s.count + 1, c};
    return Fx::Persist(next, next);
  }
};

// One client thread per tally, one command in flight at a time.
inline constexpr uint64_t kTallies = 16;
inline std::string TallyName(uint64_t i) {
  return fmt::format("tally-{:02}", i);
}
// An acknowledgement line's number: the tally and the count it reached.
inline constexpr uint64_t kTallyLane = 1'000'000'000;

}  // namespace memoir::crash

#endif  // MEMOIR_TESTS_RELIABILITY_DURABLE_TALLY_H_

// The replay CLI tests' plugin (replay_types.h). Built twice: as is, and
// with MEMOIR_PLUGIN_ABI predefined to a build of memoir 0.0.9 that the CLI
// must refuse.
//
//   type           streams       notes
//   ledger         ledger-*      invariant never-negative; events as JSON
//   ledger-strict  (--type only) today's handler refuses overdrafts
//   ledger-x       ledger-x*     overlaps ledger, so such streams need --type
//   flaky          flaky-*       non-deterministic Apply; no event_to_json
//   tally          tally-*       event-sourced
//   broken         broken-*      state_to_json throws
//   crashy         crashy-*      state_to_json dies by SIGSEGV
//   eventbug       eventbug-*    event_to_json throws on an entry of 13
//   badjson        badjson-*     event_to_json (entry 13) and state_to_json
//                                (2 entries) return text that is not JSON
//
// With MEMOIR_TEST_PLUGIN_THROW=1 in the environment, registration throws.
#include <signal.h>

#include <cstdlib>
#include <stdexcept>

#include "memoir/plugin.h"
#include "tools/replay_types.h"

namespace memoir::test::replay {
namespace {

using plugin::Invariant;
using plugin::JsonObject;
using plugin::ReplayType;

std::string BalanceJson(const Balance& b) {
  return JsonObject().Int("balance", b.balance).Int("entries", b.entries).str();
}

std::string EntryJson(const Entry& e) {
  return JsonObject().Int("amount", e.amount).Int("wobble", e.wobble).str();
}

template <typename A>
ReplayType<A> LedgerLike(std::string prefix) {
  ReplayType<A> t;
  t.stream_prefix = std::move(prefix);
  t.state_to_json = BalanceJson;
  t.event_to_json = EntryJson;
  t.invariants.push_back(
      Invariant<Balance>{"never-negative", "the balance is never below zero",
                         [](const Balance& b) { return b.balance >= 0; }});
  t.invariants.push_back(Invariant<Balance>{
      "under-a-million", "the balance stays under 1,000,000",
      [](const Balance& b) { return b.balance < 1'000'000; }});
  return t;
}

void Register(plugin::Registry& registry) {
  const char* fail = std::getenv("MEMOIR_TEST_PLUGIN_THROW");
  if (fail != nullptr && std::string_view(fail) == "1") {
    throw std::runtime_error("registration bug on purpose");
  }
  registry.Add<Ledger>("ledger", LedgerLike<Ledger>("ledger-"));
  registry.Add<StrictLedger>("ledger-strict", LedgerLike<StrictLedger>(""));
  registry.Add<Ledger>("ledger-x", LedgerLike<Ledger>("ledger-x"));

  ReplayType<Flaky> flaky;
  flaky.stream_prefix = "flaky-";
  flaky.state_to_json = BalanceJson;
  registry.Add<Flaky>("flaky", std::move(flaky));

  registry.Add<Tally>("tally", LedgerLike<Tally>("tally-"));

  ReplayType<Ledger> broken = LedgerLike<Ledger>("broken-");
  broken.state_to_json = [](const Balance&) -> std::string {
    throw std::runtime_error("state_to_json bug on purpose");
  };
  registry.Add<Ledger>("broken", std::move(broken));

  ReplayType<Ledger> crashy = LedgerLike<Ledger>("crashy-");
  crashy.state_to_json = [](const Balance& b) {
    if (b.entries > 0) raise(SIGSEGV);
    return BalanceJson(b);
  };
  registry.Add<Ledger>("crashy", std::move(crashy));

  ReplayType<Ledger> eventbug = LedgerLike<Ledger>("eventbug-");
  eventbug.event_to_json = [](const Entry& e) -> std::string {
    if (e.amount == 13) {
      throw std::runtime_error("event_to_json bug on purpose");
    }
    return EntryJson(e);
  };
  registry.Add<Ledger>("eventbug", std::move(eventbug));

  ReplayType<Ledger> badjson = LedgerLike<Ledger>("badjson-");
  badjson.event_to_json = [](const Entry& e) {
    return e.amount == 13 ? std::string("{amount: 13") : EntryJson(e);
  };
  badjson.state_to_json = [](const Balance& b) {
    return b.entries == 2 ? std::string("balance 3") : BalanceJson(b);
  };
  registry.Add<Ledger>("badjson", std::move(badjson));
}

}  // namespace
}  // namespace memoir::test::replay

MEMOIR_PLUGIN("replay-test", memoir::test::replay::Register)

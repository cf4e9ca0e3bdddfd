// The demo bank as a replay plugin (memoir/plugin.h), so that the memoir
// CLI can rebuild, bisect and verify the demo's accounts and transfers:
//
//   memoir bisect ./demo-store account-00042
//       --plugin build/release/tools/memoir-bank-plugin.so
//       --invariant balance-never-negative
//
// Built as a module from bank.cc and this file, without the memoir
// library: the memoir executable that loads it provides memoir's code.
#include <variant>

#include "bank.h"
#include "memoir/plugin.h"

namespace bank {
namespace {

using memoir::plugin::Invariant;
using memoir::plugin::JsonObject;
using memoir::plugin::ReplayType;

template <class... F>
struct PluginOverload : F... {
  using F::operator()...;
};
template <class... F>
PluginOverload(F...) -> PluginOverload<F...>;

std::string AccountJson(const AccountStateT& s) {
  return JsonObject()
      .Str("id", s.id)
      .Int("balance", s.balance)
      .Strs("debited", s.debited)
      .Strs("credited", s.credited)
      .str();
}

std::string AccountEventJson(const Account::Event& e) {
  return std::visit(
      PluginOverload{
          [](const DepositedT& d) {
            return JsonObject().UInt("op", d.op).Int("amount", d.amount).str();
          },
          [](const WithdrawnT& w) {
            return JsonObject().UInt("op", w.op).Int("amount", w.amount).str();
          },
          [](const TransferDebitedT& d) {
            return JsonObject()
                .Str("transfer", d.transfer)
                .Int("amount", d.amount)
                .str();
          },
          [](const TransferCreditedT& c) {
            return JsonObject()
                .Str("transfer", c.transfer)
                .Int("amount", c.amount)
                .str();
          },
      },
      e);
}

std::string TransferJson(const TransferStateT& s) {
  return JsonObject()
      .Str("id", s.id)
      .Str("from", s.from)
      .Str("to", s.to)
      .Int("amount", s.amount)
      .Str("stage", EnumNameStage(s.stage))
      .Str("reason", s.reason)
      .str();
}

std::string TransferEventJson(const Transfer::Event& e) {
  return std::visit(
      PluginOverload{
          [](const TransferStartedT& t) {
            return JsonObject()
                .Str("from", t.from)
                .Str("to", t.to)
                .Int("amount", t.amount)
                .str();
          },
          [](const TransferDebitDoneT&) { return JsonObject().str(); },
          [](const TransferCompletedT&) { return JsonObject().str(); },
          [](const TransferFailedT& f) {
            return JsonObject().Str("reason", f.reason).str();
          },
          [](const TransferRefundedT&) { return JsonObject().str(); },
      },
      e);
}

bool NoRepeats(const std::vector<std::string>& ids) {
  for (size_t i = 0; i < ids.size(); ++i) {
    for (size_t j = i + 1; j < ids.size(); ++j) {
      if (ids[i] == ids[j]) return false;
    }
  }
  return true;
}

void RegisterBankTypes(memoir::plugin::Registry& registry) {
  ReplayType<Account> account;
  account.stream_prefix = "account-";  // AccountId(n)
  account.state_to_json = AccountJson;
  account.event_to_json = AccountEventJson;
  account.invariants.push_back(Invariant<AccountStateT>{
      "balance-never-negative", "the balance is never below zero",
      [](const AccountStateT& s) { return s.balance >= 0; }});
  account.invariants.push_back(Invariant<AccountStateT>{
      "legs-applied-once",
      "no transfer is debited or credited twice on one account",
      [](const AccountStateT& s) {
        return NoRepeats(s.debited) && NoRepeats(s.credited);
      }});
  registry.Add<Account>("account", std::move(account));

  ReplayType<Transfer> transfer;
  transfer.stream_prefix = "transfer-";  // TransferId(n)
  transfer.state_to_json = TransferJson;
  transfer.event_to_json = TransferEventJson;
  transfer.invariants.push_back(Invariant<TransferStateT>{
      "started-with-two-accounts",
      "once started, a transfer moves a positive amount between two "
      "different accounts",
      [](const TransferStateT& s) {
        return s.stage == Stage::None || (s.amount > 0 && s.from != s.to);
      }});
  registry.Add<Transfer>("transfer", std::move(transfer));
}

}  // namespace
}  // namespace bank

MEMOIR_PLUGIN("bank", bank::RegisterBankTypes)

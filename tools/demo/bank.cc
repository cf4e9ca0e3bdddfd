#include "bank.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace bank {

namespace {

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

using AccountFx = memoir::Effect<Account::Event, Account::Reply>;
using TransferFx = memoir::Effect<Transfer::Event, Transfer::Reply>;

// The legs are driven by asks whose answers come back to the transfer as
// commands; the transfer's own journal says which leg is next.
void DriveLeg(memoir::ActorSystem& system, const std::string& transfer,
              bool debit, const std::string& account, int64_t amount) {
  auto answer = [&system, transfer, debit](memoir::Result<int64_t> r) {
    LegOutcome outcome;
    outcome.debit = debit;
    outcome.ok = r.ok();
    outcome.rejected = r.status().IsRejected();
    if (!r.ok()) outcome.reason = std::string(r.status().message());
    // Refused only during shutdown or when the transfer is quarantined
    // (the demo bounds no mailbox); the transfer's journal still says which
    // leg is next, and a Resume drives it again.
    static_cast<void>(system.Ref<Transfer>(transfer).Tell(std::move(outcome)));
  };
  auto ref = system.Ref<Account>(account);
  if (debit) {
    ref.Ask(Debit{transfer, amount}, std::move(answer));
  } else {
    ref.Ask(Credit{transfer, amount}, std::move(answer));
  }
}

}  // namespace

std::string AccountId(int n) { return fmt::format("account-{:05}", n); }
std::string TransferId(uint64_t n) { return fmt::format("transfer-{:07}", n); }

AccountStateT Account::InitialState(std::string_view id) const {
  AccountStateT s;
  s.id = std::string(id);
  return s;
}

memoir::Effect<Account::Event, Account::Reply> Account::Handle(
    const State& s, const Command& c) const {
  if (!poisoned.empty() && s.id == poisoned) {
    throw std::logic_error("simulated handler bug for " + s.id);
  }
  return std::visit(
      Overload{
          [&](const Deposit& d) {
            if (d.amount <= 0) return AccountFx::Reject("amount must be > 0");
            DepositedT e;
            e.op = d.op;
            e.amount = d.amount;
            return AccountFx::Persist(Event(std::move(e)),
                                      s.balance + d.amount);
          },
          [&](const Withdraw& w) {
            if (w.amount <= 0) return AccountFx::Reject("amount must be > 0");
            if (w.amount > s.balance) {
              return AccountFx::Reject("insufficient funds");
            }
            WithdrawnT e;
            e.op = w.op;
            e.amount = w.amount;
            return AccountFx::Persist(Event(std::move(e)),
                                      s.balance - w.amount);
          },
          [&](const Debit& d) {
            if (Contains(s.debited, d.transfer)) {
              return AccountFx::Respond(s.balance);  // a re-driven leg
            }
            if (d.amount > s.balance) {
              return AccountFx::Reject("insufficient funds");
            }
            TransferDebitedT e;
            e.transfer = d.transfer;
            e.amount = d.amount;
            return AccountFx::Persist(Event(std::move(e)),
                                      s.balance - d.amount);
          },
          [&](const Credit& d) {
            if (Contains(s.credited, d.transfer)) {
              return AccountFx::Respond(s.balance);
            }
            TransferCreditedT e;
            e.transfer = d.transfer;
            e.amount = d.amount;
            return AccountFx::Persist(Event(std::move(e)),
                                      s.balance + d.amount);
          },
          [&](const GetBalance&) { return AccountFx::Respond(s.balance); },
      },
      c);
}

int64_t BalanceDelta(const Account::Event& e) {
  return std::visit(Overload{
                        [](const DepositedT& d) { return d.amount; },
                        [](const WithdrawnT& w) { return -w.amount; },
                        [](const TransferDebitedT& d) { return -d.amount; },
                        [](const TransferCreditedT& c) { return c.amount; },
                    },
                    e);
}

void Account::Apply(State& s, const Event& e) const {
  s.balance += BalanceDelta(e);
  if (const auto* d = std::get_if<TransferDebitedT>(&e)) {
    s.debited.push_back(d->transfer);
  } else if (const auto* c = std::get_if<TransferCreditedT>(&e)) {
    s.credited.push_back(c->transfer);
  }
}

TransferStateT Transfer::InitialState(std::string_view id) const {
  TransferStateT s;
  s.id = std::string(id);
  return s;
}

memoir::Effect<Transfer::Event, Transfer::Reply> Transfer::Handle(
    const State& s, const Command& c) const {
  std::string id = s.id, from = s.from, to = s.to;
  int64_t amount = s.amount;
  auto drive = [id, from, to, amount](bool debit) {
    return [=](memoir::ActorSystem& system) {
      DriveLeg(system, id, debit, debit ? from : to, amount);
    };
  };
  return std::visit(
      Overload{
          [&](const StartTransfer& t) {
            if (s.stage != Stage::None) return TransferFx::Respond(s.stage);
            if (t.amount <= 0 || t.from == t.to) {
              return TransferFx::Reject("needs two accounts and amount > 0");
            }
            TransferStartedT e;
            e.from = t.from;
            e.to = t.to;
            e.amount = t.amount;
            return TransferFx::Persist(Event(std::move(e)), Stage::Started)
                .Then([id, t](memoir::ActorSystem& system) {
                  DriveLeg(system, id, true, t.from, t.amount);
                });
          },
          [&](const LegOutcome& o) {
            Stage expect = o.debit ? Stage::Started : Stage::Debited;
            if (s.stage != expect) return TransferFx::Respond(s.stage);
            if (o.ok && o.debit) {
              return TransferFx::Persist(Event(TransferDebitDoneT{}),
                                         Stage::Debited)
                  .Then(drive(false));
            }
            if (o.ok) {
              return TransferFx::Persist(Event(TransferCompletedT{}),
                                         Stage::Completed);
            }
            if (o.rejected && o.debit) {
              TransferFailedT e;
              e.reason = o.reason;
              return TransferFx::Persist(Event(std::move(e)), Stage::Failed);
            }
            // The leg could not run (shutdown, a quarantined account): stay
            // where we are; Resume drives it again.
            return TransferFx::Respond(s.stage);
          },
          [&](const Resume&) {
            if (s.stage == Stage::Started) {
              return TransferFx::Respond(s.stage).Then(drive(true));
            }
            if (s.stage == Stage::Debited) {
              return TransferFx::Respond(s.stage).Then(drive(false));
            }
            return TransferFx::Respond(s.stage);
          },
      },
      c);
}

void Transfer::Apply(State& s, const Event& e) const {
  std::visit(Overload{
                 [&](const TransferStartedT& t) {
                   s.from = t.from;
                   s.to = t.to;
                   s.amount = t.amount;
                   s.stage = Stage::Started;
                 },
                 [&](const TransferDebitDoneT&) { s.stage = Stage::Debited; },
                 [&](const TransferCompletedT&) { s.stage = Stage::Completed; },
                 [&](const TransferFailedT& f) {
                   s.stage = Stage::Failed;
                   s.reason = f.reason;
                 },
             },
             e);
}

memoir::Status RegisterBank(memoir::ActorSystem& system,
                            std::string poisoned_account) {
  memoir::ActorTypeOptions<Account> accounts;
  accounts.snapshots.every_events = 8;
  accounts.snapshots.keep = 2;
  accounts.restarts.max_restarts = 3;
  accounts.restarts.backoff_initial = std::chrono::milliseconds(5);
  accounts.restarts.backoff_max = std::chrono::milliseconds(50);
  Account account;
  account.poisoned = std::move(poisoned_account);
  memoir::Status s = system.Register<Account>(std::move(account), accounts);
  if (!s.ok()) return s;
  memoir::ActorTypeOptions<Transfer> transfers;
  transfers.snapshots.every_events = 0;  // three events at most: never
  return system.Register<Transfer>({}, transfers);
}

}  // namespace bank

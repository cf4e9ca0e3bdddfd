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

void PutAmount(std::string& out, int64_t v) {
  for (int i = 0; i < 8; ++i) {
    out.push_back(
        static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
  }
}

int64_t GetAmount(std::string_view in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  }
  return static_cast<int64_t>(v);
}

constexpr char kDeadline[] = "deadline";

}  // namespace

std::string AccountId(int n) { return fmt::format("account-{:05}", n); }
std::string TransferId(uint64_t n) { return fmt::format("transfer-{:07}", n); }
std::string RefundId(const std::string& transfer) {
  return transfer + "/refund";
}

// Debit and Credit: the amount (8 bytes, little-endian), a notify byte,
// then the transfer id.
memoir::EventData AccountCommandCodec::Encode(const AccountCommand& c) {
  memoir::EventData out;
  out.schema_version = 1;
  auto leg = [&](const std::string& transfer, int64_t amount, bool notify) {
    PutAmount(out.payload, amount);
    out.payload.push_back(notify ? 1 : 0);
    out.payload += transfer;
  };
  if (const auto* d = std::get_if<Debit>(&c)) {
    out.type = "Debit";
    leg(d->transfer, d->amount, true);
  } else if (const auto* cr = std::get_if<Credit>(&c)) {
    out.type = "Credit";
    leg(cr->transfer, cr->amount, cr->notify);
  } else {
    throw std::invalid_argument("only Debit and Credit travel as messages");
  }
  return out;
}

AccountCommand AccountCommandCodec::Decode(std::string_view type,
                                           uint32_t version,
                                           std::string_view payload) {
  if (version != 1 || payload.size() < 9 ||
      (type != "Debit" && type != "Credit")) {
    throw std::invalid_argument(
        fmt::format("not an account leg: {} v{}", type, version));
  }
  const int64_t amount = GetAmount(payload);
  std::string transfer(payload.substr(9));
  if (type == "Debit") return Debit{std::move(transfer), amount};
  return Credit{std::move(transfer), amount, payload[8] != 0};
}

// LegOutcome: debit, ok, rejected (a byte each), then the reason; TimeOut:
// nothing.
memoir::EventData TransferCommandCodec::Encode(const TransferCommand& c) {
  memoir::EventData out;
  out.schema_version = 1;
  if (const auto* o = std::get_if<LegOutcome>(&c)) {
    out.type = "LegOutcome";
    out.payload.push_back(o->debit ? 1 : 0);
    out.payload.push_back(o->ok ? 1 : 0);
    out.payload.push_back(o->rejected ? 1 : 0);
    out.payload += o->reason;
  } else if (std::holds_alternative<TimeOut>(c)) {
    out.type = "TimeOut";
  } else {
    throw std::invalid_argument("StartTransfer does not travel as a message");
  }
  return out;
}

TransferCommand TransferCommandCodec::Decode(std::string_view type,
                                             uint32_t version,
                                             std::string_view payload) {
  if (version == 1 && type == "TimeOut") return TimeOut{};
  if (version != 1 || type != "LegOutcome" || payload.size() < 3) {
    throw std::invalid_argument(
        fmt::format("not a transfer message: {} v{}", type, version));
  }
  LegOutcome o;
  o.debit = payload[0] != 0;
  o.ok = payload[1] != 0;
  o.rejected = payload[2] != 0;
  o.reason = std::string(payload.substr(3));
  return o;
}

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
          // The legs arrive as durable messages, once each; the lists of
          // legs applied guard against a leg sent twice by mistake.
          [&](const Debit& d) {
            if (Contains(s.debited, d.transfer)) {
              return AccountFx::Respond(s.balance);
            }
            // Refused, the debit goes back to the transfer, which asked
            // for that (Transfer::OnRefused).
            if (d.amount > s.balance) {
              return AccountFx::Reject("insufficient funds");
            }
            LegOutcome answer;
            answer.debit = true;
            TransferDebitedT e;
            e.transfer = d.transfer;
            e.amount = d.amount;
            answer.ok = true;
            return AccountFx::Persist(Event(std::move(e)), s.balance - d.amount)
                .Send<Transfer>(d.transfer, answer);
          },
          [&](const Credit& d) {
            if (Contains(s.credited, d.transfer)) {
              return AccountFx::Respond(s.balance);
            }
            TransferCreditedT e;
            e.transfer = d.transfer;
            e.amount = d.amount;
            auto fx =
                AccountFx::Persist(Event(std::move(e)), s.balance + d.amount);
            if (!d.notify) return fx;
            LegOutcome answer;
            answer.debit = false;
            answer.ok = true;
            return std::move(fx).Send<Transfer>(d.transfer, answer);
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
            // The debit and the deadline are written with the event that
            // starts the transfer, or not at all.
            return TransferFx::Persist(Event(std::move(e)), Stage::Started)
                .Send<Account>(t.from, Debit{s.id, t.amount},
                               memoir::ReplyIfRefused<Transfer>{})
                .StartTimer<Transfer>(kDeadline, deadline, TimeOut{});
          },
          [&](const LegOutcome& o) {
            if (o.debit && s.stage == Stage::Started) {
              if (o.ok) {
                return TransferFx::Persist(Event(TransferDebitDoneT{}),
                                           Stage::Debited)
                    .Send<Account>(s.to, Credit{s.id, s.amount, true});
              }
              TransferFailedT e;
              e.reason = o.reason;
              return TransferFx::Persist(Event(std::move(e)), Stage::Failed)
                  .CancelTimer(kDeadline);
            }
            if (o.debit && o.ok && s.stage == Stage::Failed) {
              // Debited after the deadline failed the transfer: give the
              // money back (compensation).
              return TransferFx::Persist(Event(TransferRefundedT{}),
                                         Stage::Refunded)
                  .Send<Account>(s.from,
                                 Credit{RefundId(s.id), s.amount, false});
            }
            if (!o.debit && o.ok && s.stage == Stage::Debited) {
              return TransferFx::Persist(Event(TransferCompletedT{}),
                                         Stage::Completed)
                  .CancelTimer(kDeadline);
            }
            return TransferFx::Respond(s.stage);
          },
          [&](const TimeOut&) {
            // Once debited, the credit is on its way and will land: only a
            // transfer still waiting for its debit gives up.
            if (s.stage != Stage::Started) return TransferFx::Respond(s.stage);
            TransferFailedT e;
            e.reason = fmt::format("no answer from {} within {} ms", s.from,
                                   deadline.count());
            return TransferFx::Persist(Event(std::move(e)), Stage::Failed);
          },
      },
      c);
}

Transfer::Command Transfer::OnRefused(const memoir::Refusal& refusal) {
  LegOutcome o;
  o.debit = refusal.command_type == "Debit";
  o.rejected = true;
  o.reason = refusal.reason;
  return o;
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
                 [&](const TransferRefundedT&) { s.stage = Stage::Refunded; },
             },
             e);
}

memoir::Status RegisterBank(memoir::ActorSystem& system,
                            std::string poisoned_account,
                            std::chrono::milliseconds transfer_deadline) {
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
  Transfer transfer;
  transfer.deadline = transfer_deadline;
  return system.Register<Transfer>(std::move(transfer), transfers);
}

}  // namespace bank

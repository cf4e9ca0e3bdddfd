// The demo bank: accounts and transfers as persistent actors.
//
// An account takes deposits, withdrawals and the two legs of transfers; a
// transfer is itself an actor that records its progress and drives both
// legs, so it resumes after a crash: each leg carries the transfer id and
// an account applies a leg at most once, so re-driving a leg is harmless.
// Money is therefore never created or lost, whatever moment a crash hits.
#ifndef MEMOIR_TOOLS_DEMO_BANK_H_
#define MEMOIR_TOOLS_DEMO_BANK_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "bank_generated.h"
#include "memoir/actor_system.h"
#include "memoir/flatbuffers_codec.h"

namespace bank {

// --- Accounts -------------------------------------------------------------
struct Deposit {
  uint64_t op = 0;
  int64_t amount = 0;
};
struct Withdraw {
  uint64_t op = 0;
  int64_t amount = 0;
};
struct Debit {
  std::string transfer;
  int64_t amount = 0;
};
struct Credit {
  std::string transfer;
  int64_t amount = 0;
};
struct GetBalance {};
using AccountCommand =
    std::variant<Deposit, Withdraw, Debit, Credit, GetBalance>;

using AccountEventCodec = memoir::VariantCodec<
    memoir::FlatBufferCodec<DepositedT, "Deposited">,
    memoir::FlatBufferCodec<WithdrawnT, "Withdrawn">,
    memoir::FlatBufferCodec<TransferDebitedT, "TransferDebited">,
    memoir::FlatBufferCodec<TransferCreditedT, "TransferCredited">>;

struct Account {
  static constexpr std::string_view kTypeName = "account";
  using State = AccountStateT;
  using Command = AccountCommand;
  using Event = AccountEventCodec::Value;
  using Reply = int64_t;  // the balance after the command
  using EventCodec = AccountEventCodec;
  using StateCodec = memoir::FlatBufferCodec<AccountStateT, "AccountState">;

  // Commands to this account make Handle throw: the demo's poison case (a
  // handler bug that only some data triggers).
  std::string poisoned;

  State InitialState(std::string_view id) const;
  memoir::Effect<Event, Reply> Handle(const State& s, const Command& c) const;
  void Apply(State& s, const Event& e) const;
};

// --- Transfers ------------------------------------------------------------
struct StartTransfer {
  std::string from;
  std::string to;
  int64_t amount = 0;
};
struct LegOutcome {
  bool debit = true;  // which leg answered
  bool ok = false;
  bool rejected = false;  // the account refused (insufficient funds)
  std::string reason;
};
struct Resume {};
using TransferCommand = std::variant<StartTransfer, LegOutcome, Resume>;

using TransferEventCodec = memoir::VariantCodec<
    memoir::FlatBufferCodec<TransferStartedT, "TransferStarted">,
    memoir::FlatBufferCodec<TransferDebitDoneT, "TransferDebitDone">,
    memoir::FlatBufferCodec<TransferCompletedT, "TransferCompleted">,
    memoir::FlatBufferCodec<TransferFailedT, "TransferFailed">>;

struct Transfer {
  static constexpr std::string_view kTypeName = "transfer";
  using State = TransferStateT;
  using Command = TransferCommand;
  using Event = TransferEventCodec::Value;
  using Reply = Stage;
  using EventCodec = TransferEventCodec;
  using StateCodec = memoir::FlatBufferCodec<TransferStateT, "TransferState">;

  State InitialState(std::string_view id) const;
  memoir::Effect<Event, Reply> Handle(const State& s, const Command& c) const;
  void Apply(State& s, const Event& e) const;
};

// Registers both types on `system` with the demo's snapshot and restart
// policies.
// What an account event does to the balance, in cents (Account::Apply and
// the demo's read model share it).
int64_t BalanceDelta(const Account::Event& e);

memoir::Status RegisterBank(memoir::ActorSystem& system,
                            std::string poisoned_account = "");

std::string AccountId(int n);
std::string TransferId(uint64_t n);

}  // namespace bank

#endif  // MEMOIR_TOOLS_DEMO_BANK_H_

// The demo bank: accounts and transfers as persistent actors.
//
// An account takes deposits, withdrawals and the two legs of transfers; a
// transfer is a process manager: an actor that records its progress and
// exchanges durable messages with the two accounts (Effect::Send). It
// sends the debit with the event that starts it; the account answers with
// the event that debits (or refuses); the transfer then sends the credit,
// and so on. Each message is written with its sender's event and taken
// with its receiver's, so a crash at any moment leaves every leg either to
// be delivered or done, exactly once, and nothing needs to scan the
// transfers at start-up. A durable timer gives each transfer a deadline:
// one whose debit has not answered by then fails, and a debit that lands
// after that is refunded. Money is never created or lost.
#ifndef MEMOIR_TOOLS_DEMO_BANK_H_
#define MEMOIR_TOOLS_DEMO_BANK_H_

#include <chrono>
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
  bool notify = true;  // answer the transfer (not for a refund)
};
struct GetBalance {};
using AccountCommand =
    std::variant<Deposit, Withdraw, Debit, Credit, GetBalance>;

using AccountEventCodec = memoir::VariantCodec<
    memoir::FlatBufferCodec<DepositedT, "Deposited">,
    memoir::FlatBufferCodec<WithdrawnT, "Withdrawn">,
    memoir::FlatBufferCodec<TransferDebitedT, "TransferDebited">,
    memoir::FlatBufferCodec<TransferCreditedT, "TransferCredited">>;

// The legs as durable messages: Debit and Credit only.
struct AccountCommandCodec {
  static memoir::EventData Encode(const AccountCommand& c);
  static AccountCommand Decode(std::string_view type, uint32_t version,
                               std::string_view payload);
};

struct Account {
  static constexpr std::string_view kTypeName = "account";
  using State = AccountStateT;
  using Command = AccountCommand;
  using Event = AccountEventCodec::Value;
  using Reply = int64_t;  // the balance after the command
  using EventCodec = AccountEventCodec;
  using CommandCodec = AccountCommandCodec;
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
// The transfer's deadline, a durable timer.
struct TimeOut {};
using TransferCommand = std::variant<StartTransfer, LegOutcome, TimeOut>;

using TransferEventCodec = memoir::VariantCodec<
    memoir::FlatBufferCodec<TransferStartedT, "TransferStarted">,
    memoir::FlatBufferCodec<TransferDebitDoneT, "TransferDebitDone">,
    memoir::FlatBufferCodec<TransferCompletedT, "TransferCompleted">,
    memoir::FlatBufferCodec<TransferFailedT, "TransferFailed">,
    memoir::FlatBufferCodec<TransferRefundedT, "TransferRefunded">>;

// The accounts' answers and the deadline as durable messages.
struct TransferCommandCodec {
  static memoir::EventData Encode(const TransferCommand& c);
  static TransferCommand Decode(std::string_view type, uint32_t version,
                                std::string_view payload);
};

struct Transfer {
  static constexpr std::string_view kTypeName = "transfer";
  using State = TransferStateT;
  using Command = TransferCommand;
  using Event = TransferEventCodec::Value;
  using Reply = Stage;
  using EventCodec = TransferEventCodec;
  using CommandCodec = TransferCommandCodec;
  using StateCodec = memoir::FlatBufferCodec<TransferStateT, "TransferState">;

  // How long the debit may take before the transfer gives up.
  std::chrono::milliseconds deadline{5'000};

  State InitialState(std::string_view id) const;
  memoir::Effect<Event, Reply> Handle(const State& s, const Command& c) const;
  void Apply(State& s, const Event& e) const;
  // A debit the account refused, sent back durably (ReplyIfRefused).
  static Command OnRefused(const memoir::Refusal& refusal);
};

// Registers both types on `system` with the demo's snapshot and restart
// policies.
// What an account event does to the balance, in cents (Account::Apply and
// the demo's read model share it).
int64_t BalanceDelta(const Account::Event& e);

memoir::Status RegisterBank(
    memoir::ActorSystem& system, std::string poisoned_account = "",
    std::chrono::milliseconds transfer_deadline = std::chrono::seconds(5));

// The refund of a transfer's debit is credited under this id.
std::string RefundId(const std::string& transfer);

std::string AccountId(int n);
std::string TransferId(uint64_t n);

}  // namespace bank

#endif  // MEMOIR_TOOLS_DEMO_BANK_H_

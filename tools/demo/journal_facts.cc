// Reads the whole journal in commit order and folds what the checks need,
// independently of the actor runtime (so the checks do not trust it).
#include <fmt/format.h>

#include <variant>

#include "bank.h"
#include "demo.h"

namespace demo {

namespace {

template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

memoir::Result<std::vector<std::string>> StreamsWithPrefix(
    memoir::Store& store, const std::string& prefix) {
  std::vector<std::string> names;
  std::string after;
  for (;;) {
    auto page = store.journal().ListStreams(prefix, after, 1000);
    if (!page.ok()) return page.status();
    for (const memoir::StreamInfo& s : page->streams) {
      if (!s.deleted) names.push_back(s.name);
    }
    if (page->next.empty()) return names;
    after = page->next;
  }
}

memoir::Result<JournalFacts> ReadJournal(memoir::Store& store,
                                         uint64_t through) {
  JournalFacts f;
  std::string error;
  memoir::Status s = store.journal().ScanAll(
      1, SIZE_MAX, [&](const memoir::EventView& e) -> bool {
        if (e.position > through) return false;
        ++f.events;
        std::string stream(e.stream);
        try {
          if (StartsWith(e.stream, "account-")) {
            auto event = bank::AccountEventCodec::Decode(
                e.type, e.schema_version, e.payload);
            std::visit(Overload{
                           [&](const bank::DepositedT& d) {
                             ++f.deposit_ops[d.op];
                             f.deposited += d.amount;
                             f.balances[stream] += d.amount;
                           },
                           [&](const bank::WithdrawnT& w) {
                             ++f.withdrawal_ops[w.op];
                             f.withdrawn += w.amount;
                             f.balances[stream] -= w.amount;
                           },
                           [&](const bank::TransferDebitedT& d) {
                             ++f.debits[d.transfer];
                             f.balances[stream] -= d.amount;
                           },
                           [&](const bank::TransferCreditedT& c) {
                             ++f.credits[c.transfer];
                             f.balances[stream] += c.amount;
                           },
                       },
                       event);
          } else if (StartsWith(e.stream, "transfer-")) {
            f.transfer_stage[stream] = std::string(e.type);
          }
        } catch (const std::exception& ex) {
          error = fmt::format("{} seq {}: {}", e.stream, e.seq, ex.what());
          return false;
        }
        return true;
      });
  if (!s.ok()) return s;
  if (!error.empty()) return memoir::Status::Corruption(error);
  return f;
}

}  // namespace demo

#include "tools/bank_store.h"

#include <flatbuffers/idl.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace memoir::test {
namespace {

void Check(const Status& s) {
  if (!s.ok()) throw std::runtime_error(s.ToString());
}

void Append(Store& store, const std::string& stream, const std::string& type,
            const std::string& payload, std::vector<std::string> tags) {
  auto r = store.journal().Append(stream, Expected::Any(),
                                  {{type, payload, 1, std::move(tags)}});
  Check(r.status());
}

}  // namespace

std::string BankSchemaPath() { return MEMOIR_BANK_FBS; }

std::string BankPayload(const std::string& table, const std::string& json) {
  std::ifstream in(BankSchemaPath());
  std::stringstream text;
  text << in.rdbuf();
  flatbuffers::Parser parser;
  if (!parser.Parse(text.str().c_str()) ||
      !parser.SetRootType(("bank." + table).c_str()) ||
      !parser.Parse(json.c_str())) {
    throw std::runtime_error("bank payload: " + parser.error_);
  }
  return std::string(
      reinterpret_cast<const char*>(parser.builder_.GetBufferPointer()),
      parser.builder_.GetSize());
}

void FillBank(Store& store) {
  Append(store, "account-1", "Deposited",
         BankPayload("Deposited", R"({amount: 100, memo: "salary"})"),
         {"bank"});
  Append(store, "account-2", "Deposited",
         BankPayload("Deposited", R"({amount: 40, memo: "gift"})"), {"bank"});
  Append(store, "account-1", "Withdrawn",
         BankPayload("Withdrawn", R"({amount: 30, memo: "rent"})"), {"bank"});
  Append(store, "audit", "Login", "login from 10.0.0.1", {"security"});
  Append(store, "account-3", "Deposited",
         BankPayload("Deposited", "{amount: 10}"), {"bank"});
  Append(store, "account-3", "Deposited",
         BankPayload("Deposited", "{amount: 20}"), {"bank"});
  Append(store, "account-1", "Deposited",
         BankPayload("Deposited", R"({amount: 250, memo: "bonus"})"),
         {"bank", "large"});
  Append(store, "account-3", "Withdrawn",
         BankPayload("Withdrawn", "{amount: 5}"), {"bank"});
  Append(store, "closed-9", "Deposited",
         BankPayload("Deposited", "{amount: 1}"), {"bank"});
  Append(store, "account-2", "Withdrawn",
         BankPayload("Withdrawn", R"({amount: 10, memo: "coffee"})"), {"bank"});
  Check(store.snapshots().Save(
      "account-1", 2,
      {"Account", 1,
       BankPayload("Account", R"({owner: "ada", balance: 70})")}));
  Check(store.snapshots().Save(
      "account-2", 2,
      {"Account", 1,
       BankPayload("Account", R"({owner: "bob", balance: 30})")}));
  Check(store.journal().DeleteTo("account-3", 2));
  Check(store.journal().DeleteStream("closed-9"));
}

void WriteBankStore(const std::string& path) {
  auto store = Store::Open(path);
  Check(store.status());
  FillBank(**store);
  Check((*store)->Close());
}

}  // namespace memoir::test

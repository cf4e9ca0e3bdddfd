// A small bank store for the CLI tests and the README: five streams (one
// deleted, one with its first events deleted), FlatBuffers payloads of
// bank.fbs, a text payload, tags and snapshots.
//
//   pos stream     seq type       payload                      tags
//   1   account-1  1   Deposited  {amount: 100, memo: salary}  bank
//   2   account-2  1   Deposited  {amount: 40, memo: gift}     bank
//   3   account-1  2   Withdrawn  {amount: 30, memo: rent}     bank
//   4   audit      1   Login      "login from 10.0.0.1"        security
//   5   account-3  1   Deposited  {amount: 10}                 bank
//   6   account-3  2   Deposited  {amount: 20}                 bank
//   7   account-1  3   Deposited  {amount: 250, memo: bonus}   bank, large
//   8   account-3  3   Withdrawn  {amount: 5}                  bank
//   9   closed-9   1   Deposited  {amount: 1}                  bank
//   10  account-2  2   Withdrawn  {amount: 10, memo: coffee}   bank
// then snapshots Account of account-1 at seq 2 and account-2 at seq 2,
// account-3 deleted to seq 2 and closed-9 deleted.
#ifndef MEMOIR_TESTS_TOOLS_BANK_STORE_H_
#define MEMOIR_TESTS_TOOLS_BANK_STORE_H_

#include <string>

#include "memoir/store.h"

namespace memoir::test {

// The path of bank.fbs.
std::string BankSchemaPath();

// `json` encoded as the bank.fbs table `table`.
std::string BankPayload(const std::string& table, const std::string& json);

// Appends the events above (and the snapshots and deletions) to `store`.
void FillBank(Store& store);

// Creates the bank store at `path` and closes it.
void WriteBankStore(const std::string& path);

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_TOOLS_BANK_STORE_H_

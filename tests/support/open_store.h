// Opening a store in a test: one helper, so that every test that cannot
// open its store fails the same way, with the status in the message.
#ifndef MEMOIR_TESTS_SUPPORT_OPEN_STORE_H_
#define MEMOIR_TESTS_SUPPORT_OPEN_STORE_H_

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "memoir/store.h"
#include "support/backend.h"

namespace memoir::test {

// Tests rarely need fsync: their stores are thrown away.
inline StoreOptions FastStore() {
  StoreOptions o;
  o.durability = Durability::kNone;
  return o;
}

// The store at `path`, opened with `o`; fails the test case (REQUIRE) with
// the status when it does not open.
// In a PostgreSQL run (support/backend.h) the store is the schema that
// stands for `path`.
inline std::unique_ptr<Store> OpenStoreOrFail(const std::string& path,
                                              const StoreOptions& o = {}) {
  auto store = Store::Open(StoreLocation(path), o);
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  return std::move(store).value();
}

// The store at `path`, read-only.
inline std::unique_ptr<Store> OpenReadOnlyOrFail(const std::string& path) {
  StoreOptions o;
  o.read_only = true;
  return OpenStoreOrFail(path, o);
}

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_SUPPORT_OPEN_STORE_H_

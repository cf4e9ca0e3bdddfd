// Damage to a store's B-tree structure, for tests of what reads do when
// LMDB's pages lie: unlike a flipped bit in a record, such damage passes
// every record's checksum.
#ifndef MEMOIR_TESTS_SUPPORT_LMDB_PAGES_H_
#define MEMOIR_TESTS_SUPPORT_LMDB_PAGES_H_

#include <string>

namespace memoir::test {

// Rewrites the branch pages of table `db` in the closed store at `store`
// so that each child pointer of its root, and of each branch page below it
// but the last, names the next branch page: root -> b1 -> b2 -> ... -> bn
// -> bn's leaves. Every page stays valid, but a walk of the table meets
// bn's leaves (fanout)^n times over: without a check of key order it
// would never end. Needs a table at least 3 levels deep. Returns an empty
// string, or what kept it from doing so.
std::string MakeBranchPagesRepeat(const std::string& store, const char* db);

// Flips the lowest bit of the last byte of the first record of table `db`
// in the closed store at `store` (a record's checksum then fails). Returns
// an empty string, or what kept it from doing so.
std::string FlipFirstRecordByte(const std::string& store, const char* db);

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_SUPPORT_LMDB_PAGES_H_

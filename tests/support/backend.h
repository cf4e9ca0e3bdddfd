// Which backend a test run exercises. The journal and snapshot conformance
// tests are one source run twice by ctest: once on LMDB, once on
// PostgreSQL (MEMOIR_TEST_BACKEND=postgres, with MEMOIR_TEST_POSTGRES the
// connection string of a server, which `bash tools/dev.sh test` starts).
// On PostgreSQL every store path a test opens through OpenStoreOrFail maps
// to a schema of its own, dropped with the test's TempDir.
//
// Test cases about LMDB itself (files, pages, the index, fork) carry
// doctest::test_suite("lmdb"); the PostgreSQL runs exclude that suite.
#ifndef MEMOIR_TESTS_SUPPORT_BACKEND_H_
#define MEMOIR_TESTS_SUPPORT_BACKEND_H_

#include <string>

namespace memoir::test {

// True in a PostgreSQL run.
bool OnPostgres();

// The connection string of the store that stands for the directory `path`
// in a PostgreSQL run: the server of MEMOIR_TEST_POSTGRES, a schema named
// after the path.
std::string PostgresUriFor(const std::string& path);

// Drops the schemas of every path under `dir` (TempDir's destructor).
void DropPostgresStoresUnder(const std::string& dir);

// What tests pass to Store::Open for the directory `path`: the path
// itself, or in a PostgreSQL run PostgresUriFor(path).
std::string StoreLocation(const std::string& path);

// In a PostgreSQL run: runs `sql` on the server behind memoir's back, with
// every "{s}" replaced by the schema of `path`'s store, and returns the
// first column of the first row as text ("" when there is none), or
// "error: ..." when the statement fails.
std::string PostgresQuery(const std::string& path, const std::string& sql);

// Damages the first event of the closed store at `path` behind memoir's
// back: a bit of the first log record's bytes on LMDB, a bit of the row's
// timestamp on PostgreSQL. Returns what went wrong, empty on success.
std::string CorruptFirstEvent(const std::string& path);

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_SUPPORT_BACKEND_H_

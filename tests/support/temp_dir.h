// Test helpers: a private temporary directory per test, removed afterwards,
// and raw LMDB access for tests that damage a store on purpose.
#ifndef MEMOIR_TESTS_SUPPORT_TEMP_DIR_H_
#define MEMOIR_TESTS_SUPPORT_TEMP_DIR_H_

#include <functional>
#include <string>

namespace memoir::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // A path inside the directory (not created).
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Opens the LMDB environment of a closed store directly and calls `edit`
// with a write transaction and a way to open named databases. Returns the
// LMDB code of the commit (0 on success).
struct RawTxn {
  void* txn;  // MDB_txn*
  std::function<unsigned(const char* name)> dbi;
};
int EditRaw(const std::string& store, const std::function<void(RawTxn&)>& edit);

// Flips one bit of the value stored under `key` in database `db` of a
// closed store. Returns false if the key is missing.
bool FlipValueBit(const std::string& store, const char* db,
                  const std::string& key, size_t byte, int bit);

std::string Big64(uint64_t v);

// Hex SHA-like digest (XXH3) of a file's bytes, for "unchanged" checks.
std::string FileDigest(const std::string& path);

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_SUPPORT_TEMP_DIR_H_

#include "support/temp_dir.h"

#include <lmdb.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "storage/checksum.h"
#include "support/backend.h"

namespace memoir::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/memoir-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  DropPostgresStoresUnder(path_);
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int EditRaw(const std::string& store,
            const std::function<void(RawTxn&)>& edit) {
  MDB_env* env = nullptr;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 16);
  int rc = mdb_env_open(env, store.c_str(), MDB_NOTLS, 0600);
  if (rc != 0) {
    mdb_env_close(env);
    return rc;
  }
  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc != 0) {
    mdb_env_close(env);
    return rc;
  }
  RawTxn raw{txn, [txn](const char* name) {
               MDB_dbi dbi = 0;
               mdb_dbi_open(txn, name, 0, &dbi);
               return static_cast<unsigned>(dbi);
             }};
  edit(raw);
  rc = mdb_txn_commit(txn);
  mdb_env_close(env);
  return rc;
}

bool FlipValueBit(const std::string& store, const char* db,
                  const std::string& key, size_t byte, int bit) {
  bool found = false;
  int rc = EditRaw(store, [&](RawTxn& raw) {
    auto* txn = static_cast<MDB_txn*>(raw.txn);
    MDB_dbi dbi = raw.dbi(db);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v;
    if (mdb_get(txn, dbi, &k, &v) != 0 || byte >= v.mv_size) return;
    std::string copy(static_cast<const char*>(v.mv_data), v.mv_size);
    copy[byte] = static_cast<char>(copy[byte] ^ (1 << bit));
    MDB_val nv{copy.size(), copy.data()};
    found = mdb_put(txn, dbi, &k, &nv, 0) == 0;
  });
  return found && rc == 0;
}

std::string Big64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

std::string FileDigest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  std::string bytes = buf.str();
  char out[32];
  std::snprintf(out, sizeof(out), "%016llx:%zu",
                static_cast<unsigned long long>(
                    internal::Checksum(bytes.data(), bytes.size())),
                bytes.size());
  return out;
}

}  // namespace memoir::test

// Opening stores (storage/env.h through memoir::Store): locks, processes,
// format versions and options.
#include <doctest/doctest.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "memoir/store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

struct ProbeResult {
  int exit_code;
  std::string output;
};

ProbeResult RunProbe(const std::string& mode, const std::string& path) {
  std::string cmd =
      std::string(MEMOIR_STORE_PROBE) + " " + mode + " '" + path + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("a second open of the same store in one process is busy") {
  test::TempDir dir;
  auto first = Store::Open(dir.path());
  REQUIRE(first.ok());
  auto second = Store::Open(dir.path());
  REQUIRE(!second.ok());
  CHECK(second.status().IsBusy());
  CHECK(std::string(second.status().message())
            .find("already open in this process") != std::string::npos);
  StoreOptions ro;
  ro.read_only = true;
  CHECK(Store::Open(dir.path(), ro).status().IsBusy());
  first->reset();
  CHECK(Store::Open(dir.path()).ok());
}

TEST_CASE(
    "a second process asking to write gets busy naming the holder, and can "
    "still read") {
  test::TempDir dir;
  auto store = Store::Open(dir.path());
  REQUIRE(store.ok());
  REQUIRE((*store)
              ->journal()
              .Append("s", Expected::Any(), {{"T", "x", 1, {}}})
              .ok());
  ProbeResult w = RunProbe("write", dir.path());
  CHECK(w.exit_code == 10);
  CHECK(w.output.find("held for writing") != std::string::npos);
  CHECK(w.output.find("pid " + std::to_string(getpid())) != std::string::npos);
  ProbeResult r = RunProbe("read", dir.path());
  CHECK(r.exit_code == 0);
  CHECK(r.output == "head 1\n");
  // Once the holder closes, the other process may write.
  store->reset();
  ProbeResult w2 = RunProbe("write", dir.path());
  CHECK(w2.exit_code == 0);
}

TEST_CASE(
    "a child forked from a process with an open store gets an error instead of "
    "touching it") {
  test::TempDir dir;
  auto store = Store::Open(dir.path());
  REQUIRE(store.ok());
  REQUIRE((*store)
              ->journal()
              .Append("s", Expected::Any(), {{"T", "x", 1, {}}})
              .ok());
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    Journal& j = (*store)->journal();
    auto head = j.Head("s");
    auto append = j.Append("s", Expected::Any(), {{"T", "y", 1, {}}});
    bool refused = !head.ok() && head.status().IsInvalidArgument() &&
                   std::string(head.status().message()).find("fork") !=
                       std::string::npos &&
                   !append.ok();
    // The child may open the store itself (as a second writer it is busy:
    // the parent holds the lock).
    auto own = Store::Open(dir.path());
    bool own_busy = !own.ok() && own.status().IsBusy();
    _exit(refused && own_busy ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // The parent is unaffected.
  CHECK(*(*store)->journal().Head("s") == 1);
  CHECK((*store)
            ->journal()
            .Append("s", Expected::Any(), {{"T", "z", 1, {}}})
            .ok());
}

TEST_CASE("a store written by a newer format is refused with a clear message") {
  test::TempDir dir;
  {
    auto store = Store::Open(dir.path());
    REQUIRE(store.ok());
  }
  REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
            MDB_dbi meta = raw.dbi("meta");
            std::string key = "format_version";
            std::string v(8, '\0');
            v[0] = 99;
            MDB_val k{key.size(), key.data()};
            MDB_val val{8, v.data()};
            mdb_put(static_cast<MDB_txn*>(raw.txn), meta, &k, &val, 0);
          }) == 0);
  auto store = Store::Open(dir.path());
  REQUIRE(!store.ok());
  CHECK(store.status().IsInvalidArgument());
  CHECK(std::string(store.status().message()).find("format 99") !=
        std::string::npos);
  CHECK(std::string(store.status().message()).find("upgrade memoir") !=
        std::string::npos);
}

TEST_CASE(
    "a format 1 store is read as it is and upgraded to format 3 by a "
    "writer, which an older memoir then refuses") {
  test::TempDir dir;
  {
    auto store = Store::Open(dir.path());
    REQUIRE(store.ok());
  }
  auto format = [&] {
    uint64_t version = 0;
    REQUIRE(test::EditRaw(dir.path(), [&](test::RawTxn& raw) {
              MDB_dbi meta = raw.dbi("meta");
              std::string key = "format_version";
              MDB_val k{key.size(), key.data()};
              MDB_val v;
              REQUIRE(mdb_get(static_cast<MDB_txn*>(raw.txn), meta, &k, &v) ==
                      0);
              REQUIRE(v.mv_size == 8);
              version = static_cast<unsigned char>(
                  static_cast<const char*>(v.mv_data)[0]);
            }) == 0);
    return version;
  };
  CHECK(format() == 3);
  REQUIRE(test::EditRaw(dir.path(), [](test::RawTxn& raw) {
            MDB_dbi meta = raw.dbi("meta");
            std::string key = "format_version";
            std::string v(8, '\0');
            v[0] = 1;
            MDB_val k{key.size(), key.data()};
            MDB_val val{8, v.data()};
            REQUIRE(mdb_put(static_cast<MDB_txn*>(raw.txn), meta, &k, &val,
                            0) == 0);
          }) == 0);
  {
    StoreOptions ro;
    ro.read_only = true;
    auto reader = Store::Open(dir.path(), ro);
    REQUIRE(reader.ok());
  }
  CHECK(format() == 1);
  {
    auto writer = Store::Open(dir.path());
    REQUIRE(writer.ok());
  }
  CHECK(format() == 3);
}

TEST_CASE("bad options and missing stores get specific errors") {
  test::TempDir dir;
  StoreOptions o;
  SUBCASE("tiny map") {
    o.map_size = 1000;
    CHECK(Store::Open(dir.Sub("a"), o).status().IsInvalidArgument());
  }
  SUBCASE("no_lock without read_only") {
    o.no_lock = true;
    CHECK(Store::Open(dir.Sub("a"), o).status().IsInvalidArgument());
  }
  SUBCASE("read-only open of a missing store") {
    o.read_only = true;
    auto s = Store::Open(dir.Sub("missing"), o);
    CHECK(s.status().IsNotFound());
    CHECK(std::string(s.status().message()).find("missing") !=
          std::string::npos);
  }
  SUBCASE("refusing to create") {
    o.create_if_missing = false;
    CHECK(Store::Open(dir.Sub("missing"), o).status().IsNotFound());
  }
  SUBCASE("a plain file instead of a directory") {
    FILE* f = fopen(dir.Sub("file").c_str(), "w");
    REQUIRE(f != nullptr);
    fclose(f);
    CHECK(Store::Open(dir.Sub("file"), o).status().IsInvalidArgument());
  }
  SUBCASE("an LMDB environment that is not a memoir store") {
    std::string path = dir.Sub("foreign");
    REQUIRE(mkdir(path.c_str(), 0700) == 0);
    MDB_env* env;
    mdb_env_create(&env);
    REQUIRE(mdb_env_open(env, path.c_str(), 0, 0600) == 0);
    mdb_env_close(env);
    o.read_only = true;
    auto s = Store::Open(path, o);
    CHECK(s.status().IsCorruption());
    CHECK(std::string(s.status().message()).find("not a memoir store") !=
          std::string::npos);
  }
}

}  // namespace memoir

namespace memoir {

TEST_CASE(
    "the store stays a plain LMDB environment that mdb_stat -a can read") {
  test::TempDir dir;
  {
    auto store = Store::Open(dir.path());
    REQUIRE(store.ok());
    REQUIRE((*store)
                ->journal()
                .Append("s", Expected::Any(), {{"T", "x", 1, {"t"}}})
                .ok());
  }
  std::string cmd = "mdb_stat -a '" + dir.path() + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  REQUIRE(pclose(p) == 0);
  for (const char* db :
       {"meta", "names", "streams", "log", "stream_index", "tag_index",
        "snapshots", "checkpoints", "projections", "projection_rows", "parked",
        "outbox", "inbox", "timers", "stream_meta"}) {
    CHECK_MESSAGE(
        out.find(std::string("Status of ") + db + "\n") != std::string::npos,
        db);
  }
}

}  // namespace memoir

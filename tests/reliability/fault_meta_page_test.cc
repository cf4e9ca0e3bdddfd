// Storage full while LMDB writes its meta page, reproduced in-process with
// the interposer. LMDB then marks the environment fatal (MDB_PANIC) and
// refuses every later transaction, so unlike an ordinary full disk the
// same open store cannot write again: the failed append and every later
// one must say so and say to reopen, and the reopened store must hold
// everything acknowledged and take appends.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "memoir/store.h"
#include "support/io_faults.h"
#include "support/temp_dir.h"

namespace memoir::test {
namespace {

EventData One(const std::string& payload) { return {"E", payload, 1, {}}; }

TEST_CASE(
    "storage full while LMDB writes the meta page is final for the open "
    "store: the append fails, later ones say reopen, the reopened store has "
    "every acknowledged event") {
  TempDir dir;
  const std::string path = dir.Sub("store");
  {
    auto store = Store::Open(path);
    REQUIRE(store.ok());
    Journal& journal = (*store)->journal();
    REQUIRE(journal.Append("s", Expected::Any(), {One("1")}).ok());

    // The next write to one of the two meta pages (the first two pages of
    // data.mdb) fails with ENOSPC, as on a full copy-on-write filesystem.
    IoFaultPlan plan;
    plan.dir = path;
    plan.op = IoOp::kPwrite;
    plan.below_offset = 2 * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    plan.nth = 1;
    plan.err = ENOSPC;
    ArmIoFaults(plan);
    auto full = journal.Append("s", Expected::Any(), {One("2")});
    const IoFaultTally tally = IoFaultsSoFar();
    LiftIoFaults();
    REQUIRE(tally.injected);
    INFO("the failed append: ", full.status().ToString());
    REQUIRE(!full.ok());
    CHECK(full.status().IsIOError());
    CHECK(full.status().message().find("meta page") != std::string::npos);
    CHECK(full.status().message().find("reopen") != std::string::npos);
    CHECK(full.status().message().find("stays usable") == std::string::npos);

    // Space is back, but this environment is done: every write says so.
    auto again = journal.Append("s", Expected::Any(), {One("3")});
    INFO("the append after space was freed: ", again.status().ToString());
    CHECK(again.status().IsIOError());
    CHECK(again.status().message().find("reopen") != std::string::npos);
    // LMDB refuses reads of a failed environment too, and says why.
    auto read = journal.Head("s");
    INFO("a read after the failure: ", read.status().ToString());
    CHECK(read.status().IsIOError());
    CHECK(read.status().message().find("reopen") != std::string::npos);
    ArmIoFaults(IoFaultPlan{});  // nothing counted any more
  }
  auto reopened = Store::Open(path);
  REQUIRE(reopened.ok());
  Journal& journal = (*reopened)->journal();
  auto head = journal.Head("s");
  REQUIRE(head.ok());
  CHECK(*head == 1);  // "1" was acknowledged; "2" and "3" were refused
  CHECK(journal.Append("s", Expected::At(1), {One("4")}).ok());
}

}  // namespace
}  // namespace memoir::test

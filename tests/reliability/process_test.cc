// Processes: a reader killed inside a read transaction leaves no stale
// reader slot once the store is opened again.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "memoir/inspect.h"
#include "memoir/store.h"
#include "support/temp_dir.h"

namespace memoir {
namespace {

TEST_CASE(
    "a reader killed inside a read transaction leaves no stale reader "
    "slot after the next open") {
  test::TempDir dir;
  const std::string path = dir.Sub("store");
  {
    auto store = Store::Open(path);
    REQUIRE(store.ok());
    REQUIRE((*store)
                ->journal()
                .Append("s", Expected::Any(), {{"T", "x", 1, {}}})
                .ok());
  }
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(MEMOIR_STORE_PROBE, "store_probe", "hold", path.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  FILE* in = ::fdopen(fds[0], "r");
  char line[128] = {};
  // Blocks until the child is inside its read (or exits): no sleeps.
  bool holding = std::fgets(line, sizeof line, in) != nullptr &&
                 std::string(line) == "holding\n";
  {
    auto store = Store::Open(path);
    REQUIRE(store.ok());
    auto info = InspectStore(**store);
    REQUIRE(info.ok());
    bool seen = false;
    for (const ReaderSlot& r : info->readers) seen |= r.pid == child;
    CHECK_MESSAGE(seen, "the live reader's slot is listed");
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  std::fclose(in);
  REQUIRE(holding);
  auto store = Store::Open(path);
  REQUIRE(store.ok());
  auto info = InspectStore(**store);
  REQUIRE(info.ok());
  for (const ReaderSlot& r : info->readers) CHECK(r.pid != child);
  CHECK((*store)
            ->journal()
            .Append("s", Expected::At(1), {{"T", "y", 1, {}}})
            .ok());
}

}  // namespace
}  // namespace memoir

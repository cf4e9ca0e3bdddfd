// CommitSignal (storage/commit_signal.h) and NotifyFile
// (storage/notify_file.h): the wake-ups that end a cancelled wait. Each
// wait here lasts four minutes unless woken, and the test fails when one
// has not ended after two: a wake-up that does nothing fails, it cannot
// pass on a periodic re-check.
#include "storage/commit_signal.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <limits>

#include "storage/notify_file.h"
#include "support/temp_dir.h"

namespace memoir::internal {
namespace {

using namespace std::chrono_literals;
constexpr auto kLong = std::chrono::minutes(2);
constexpr auto kLonger = std::chrono::minutes(4);

template <typename T>
T GetWithin(std::future<T>& f) {
  REQUIRE(f.wait_for(kLong) == std::future_status::ready);
  return f.get();
}

TEST_CASE(
    "CommitSignal::Wake ends the waits whose cancel flag is set; the others "
    "wait on for a position") {
  CommitSignal signal;
  std::atomic<bool> cancel{false}, clear{false};
  auto cancelled = std::async(std::launch::async, [&] {
    return signal.WaitAbove(0, kLonger, &cancel);
  });
  auto waiting = std::async(
      std::launch::async, [&] { return signal.WaitAbove(0, kLonger, &clear); });
  cancel = true;
  signal.Wake();
  CHECK(GetWithin(cancelled) == 0);
  signal.Publish(1);
  CHECK(GetWithin(waiting) == 1);  // not 0: the Wake did not end it
}

TEST_CASE(
    "CommitSignal::WaitAbove with its flag already set returns at once, "
    "woken or not") {
  CommitSignal signal;
  std::atomic<bool> cancel{true};
  auto r = std::async(std::launch::async,
                      [&] { return signal.WaitAbove(0, kLonger, &cancel); });
  CHECK(GetWithin(r) == 0);
}

TEST_CASE("NotifyFile::Wake from one reader wakes another reader's Wait") {
  test::TempDir dir;
  std::unique_ptr<NotifyFile> writer = NotifyFile::ForWriter(dir.path());
  REQUIRE(writer != nullptr);
  std::unique_ptr<NotifyFile> sleeper = NotifyFile::ForReader(dir.path());
  std::unique_ptr<NotifyFile> waker = NotifyFile::ForReader(dir.path());
  REQUIRE(sleeper != nullptr);
  REQUIRE(waker != nullptr);
  REQUIRE(sleeper->can_register());
  sleeper->Register();
  const uint32_t seen = sleeper->word();
  auto slept = std::async(std::launch::async, [&] {
    sleeper->Wait(seen, kLonger);
    return sleeper->word();
  });
  waker->Wake();
  CHECK(GetWithin(slept) != seen);
  sleeper->Unregister();
}

}  // namespace
}  // namespace memoir::internal

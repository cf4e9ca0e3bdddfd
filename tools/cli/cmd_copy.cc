// copy: a consistent copy of a live store.
#include <fmt/format.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <thread>

#include "cli.h"
#include "contain.h"
#include "format.h"
#include "memoir/inspect.h"
#include "output.h"

namespace memoir::cli {
namespace {

struct CopyArgs {
  std::string dest;
  bool compact = false;
};

off_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

int RunCopy(const Options& o, const CopyArgs& args) {
  std::unique_ptr<Store> store = OpenForReading(o);
  if (!store) return kExitUnreadable;
  // A copy without --compact is as large as the pages in use.
  uint64_t total = 0;
  if (!args.compact) {
    Result<StoreInfo> info = InspectStore(*store);
    if (info.ok()) total = info->map_used;
  }
  // LMDB copies in one call; the growing file is the heartbeat.
  std::atomic<bool> done{false};
  std::thread watch([&] {
    Progress progress("copy");
    progress.SetTotal(total, /*about=*/true);
    off_t last = -1;
    while (!done.load()) {
      off_t size = FileSize(args.dest + "/data.mdb.partial");
      if (size != last) {
        Heartbeat();
        last = size;
        if (size > 0) progress.Update(static_cast<uint64_t>(size), "bytes");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  Status s = CopyStore(*store, args.dest, {.compact = args.compact});
  done = true;
  watch.join();
  if (!s.ok()) {
    return Fail(s, fmt::format("copying {} to {}", o.store, args.dest));
  }
  off_t size = FileSize(args.dest + "/data.mdb");
  PrintLine(fmt::format("copied {} to {} ({}{})", o.store, args.dest,
                        Size(static_cast<uint64_t>(std::max<off_t>(size, 0))),
                        args.compact ? ", compacted" : ""));
  return kExitOk;
}

}  // namespace

void AddCopyCommand(CLI::App& app, Options& o, std::vector<Command>& commands) {
  auto args = std::make_shared<CopyArgs>();
  CLI::App* copy = app.add_subcommand(
      "copy",
      "Write a consistent copy of STORE, as of one commit, to DEST (a new or "
      "empty directory), while its writer goes on");
  AddStoreArg(copy, o);
  copy->add_option("DEST", args->dest, "The directory to copy into")
      ->required();
  copy->add_flag("--compact", args->compact,
                 "Leave out free pages: a smaller copy, more CPU");
  AddNoLockFlag(copy, o);
  commands.push_back(
      {copy, Kind::kRead, [&o, args] { return RunCopy(o, *args); }});
}

}  // namespace memoir::cli

// delete-to and delete-stream: the only commands that write to a store
// (besides import). Both ask for confirmation unless given --yes.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>

#include "cli.h"
#include "output.h"

namespace memoir::cli {
namespace {

struct DeleteArgs {
  uint64_t seq = 0;
  bool yes = false;
  bool force = false;  // delete-to: past consumers' checkpoints
  std::optional<uint64_t> expected_head;
};

// The stream must still be at the head the operator confirmed (or named
// with --expected-head): a writer that appended meanwhile makes the
// deletion stop, not remove more than was asked.
int CheckHead(const Options& o, const DeleteArgs& args,
              const StreamInfo& info) {
  if (args.expected_head && *args.expected_head != info.head) {
    PrintError(kExitProblems,
               fmt::format("stream '{}' is at head {}, not {}; nothing was "
                           "deleted",
                           o.stream, info.head, *args.expected_head),
               "Look at the stream again ('memoir events STORE STREAM') "
               "before deleting.");
    return kExitProblems;
  }
  return kExitOk;
}

int HeadMoved(const Options& o, const Status& s) {
  PrintError(kExitProblems,
             fmt::format("stream '{}' changed before the deletion (its head "
                         "is now {}); nothing was deleted",
                         o.stream, s.actual_seq()),
             "Look at the stream again and repeat the command.");
  return kExitProblems;
}

int Declined() {
  PrintError(kExitProblems, "not confirmed; nothing was deleted",
             "Type 'yes' to confirm, or pass --yes.");
  return kExitProblems;
}

int RunDeleteTo(const Options& o, const DeleteArgs& args) {
  std::unique_ptr<Store> store = OpenForWriting(o, /*create=*/false);
  if (!store) return kExitUnreadable;
  Journal& j = store->journal();
  Result<StreamInfo> info = j.GetStream(o.stream);
  if (!info.ok()) return Fail(info.status(), "reading the stream");
  if (info->deleted) {
    return Fail(
        Status::StreamDeleted(fmt::format("stream '{}' was deleted", o.stream)),
        "deleting events");
  }
  if (int rc = CheckHead(o, args, *info); rc != kExitOk) return rc;
  if (args.seq > info->head) {
    return UsageError(
        fmt::format("SEQ {} is above the head {} of stream '{}': delete up "
                    "to seq {} at most",
                    args.seq, info->head, o.stream, info->head));
  }
  if (args.seq <= info->deleted_to) {
    PrintLine(
        fmt::format("stream '{}' is already deleted up to seq {}; "
                    "nothing to do",
                    o.stream, info->deleted_to));
    return kExitOk;
  }
  const uint64_t count = args.seq - info->deleted_to;
  if (!args.yes &&
      !Confirm(fmt::format("Delete events {}..{} of stream '{}' in {} ({} "
                           "event{})?",
                           info->deleted_to + 1, args.seq, o.stream, o.store,
                           count, count == 1 ? "" : "s"))) {
    return Declined();
  }
  DeleteOptions options;
  options.force = args.force;
  options.expected_head = info->head;
  Status s = j.DeleteTo(o.stream, args.seq, options);
  if (s.IsConflict()) return HeadMoved(o, s);
  if (s.IsBusy()) {
    PrintError(kExitProblems, s.message(),
               "See the consumers' checkpoints with 'memoir subscriptions "
               "STORE' and 'memoir projections STORE'; delete the rest once "
               "they have passed, or pass --force.");
    return kExitProblems;
  }
  if (!s.ok()) return Fail(s, fmt::format("deleting from '{}'", o.stream));
  PrintLine(fmt::format("deleted events {}..{} of stream '{}'",
                        info->deleted_to + 1, args.seq, o.stream));
  return kExitOk;
}

int RunDeleteStream(const Options& o, const DeleteArgs& args) {
  std::unique_ptr<Store> store = OpenForWriting(o, /*create=*/false);
  if (!store) return kExitUnreadable;
  Journal& j = store->journal();
  Result<StreamInfo> info = j.GetStream(o.stream);
  if (!info.ok()) return Fail(info.status(), "reading the stream");
  if (info->deleted) {
    PrintLine(fmt::format("stream '{}' was already deleted; nothing to do",
                          o.stream));
    return kExitOk;
  }
  if (int rc = CheckHead(o, args, *info); rc != kExitOk) return rc;
  if (!args.yes &&
      !Confirm(fmt::format("Delete stream '{}' in {} with its {} event{} and "
                           "its snapshots, for good?",
                           o.stream, o.store, info->event_count,
                           info->event_count == 1 ? "" : "s"))) {
    return Declined();
  }
  DeleteOptions options;
  options.expected_head = info->head;
  Status s = j.DeleteStream(o.stream, options);
  if (s.IsConflict()) return HeadMoved(o, s);
  if (!s.ok()) return Fail(s, fmt::format("deleting '{}'", o.stream));
  PrintLine(fmt::format("deleted stream '{}'", o.stream));
  return kExitOk;
}

}  // namespace

void AddDeleteCommands(CLI::App& app, Options& o,
                       std::vector<Command>& commands) {
  auto to_args = std::make_shared<DeleteArgs>();
  CLI::App* to = app.add_subcommand(
      "delete-to",
      "Delete events 1..SEQ of a stream (the head is kept, so appends go on "
      "after it); asks for confirmation unless --yes");
  AddStoreArg(to, o);
  AddStreamArg(to, o);
  to->add_option("SEQ", to_args->seq, "The last seq to delete")
      ->required()
      ->type_name("SEQ")
      ->check(AtLeastOne());
  to->add_flag("-y,--yes", to_args->yes, "Do not ask for confirmation");
  to->add_option("--expected-head", to_args->expected_head,
                 "Delete only if the stream's head is N (nothing otherwise)")
      ->type_name("N");
  to->add_flag("--force", to_args->force,
               "Delete events that a consumer kept in the store (a "
               "subscription's checkpoint, a projection) has not read yet");
  commands.push_back(
      {to, Kind::kWrite, [&o, to_args] { return RunDeleteTo(o, *to_args); }});

  auto stream_args = std::make_shared<DeleteArgs>();
  CLI::App* stream = app.add_subcommand(
      "delete-stream",
      "Delete a stream with its events and snapshots (a tombstone: later "
      "appends to it are refused); asks for confirmation unless --yes");
  AddStoreArg(stream, o);
  AddStreamArg(stream, o);
  stream->add_flag("-y,--yes", stream_args->yes, "Do not ask for confirmation");
  stream
      ->add_option("--expected-head", stream_args->expected_head,
                   "Delete only if the stream's head is N (nothing otherwise)")
      ->type_name("N");
  commands.push_back({stream, Kind::kWrite, [&o, stream_args] {
                        return RunDeleteStream(o, *stream_args);
                      }});
}

}  // namespace memoir::cli

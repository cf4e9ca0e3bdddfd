// Printing events and snapshots, as table rows or JSON lines, for the
// commands that list them (events, all, tail, snapshots).
#ifndef MEMOIR_TOOLS_CLI_EVENT_ROWS_H_
#define MEMOIR_TOOLS_CLI_EVENT_ROWS_H_

#include <memory>

#include "cli.h"
#include "memoir/journal.h"
#include "memoir/snapshot_store.h"
#include "output.h"
#include "payload.h"
#include "plugin_decode.h"

namespace memoir::cli {

// Loads o.schema, if given. On failure prints why and returns false.
bool LoadSchema(const Options& o, std::unique_ptr<Schema>* schema);
// Loads o.plugin, if given. On failure prints why and returns false.
bool LoadDecoder(const Options& o, std::unique_ptr<PluginDecoder>* decoder);

class EventPrinter {
 public:
  // `in_commit_order`: rows lead with the position and name the stream
  // (all, tail); otherwise they lead with the seq of one stream (events).
  // Payloads show through `decoder` (may be null) for the streams its
  // plugin takes, else through `schema` (may be null), else as a preview.
  EventPrinter(const Options& o, Schema* schema, PluginDecoder* decoder,
               bool in_commit_order);

  // Prints one event. Throws BrokenPipe.
  void Print(const EventView& e);
  // Prints buffered rows now (tail --follow). Throws BrokenPipe.
  void Flush();
  uint64_t count() const { return count_; }

 private:
  bool json_;
  bool meta_;
  Schema* schema_;
  PluginDecoder* decoder_;
  bool commit_order_;
  Table table_;
  uint64_t count_ = 0;
};

// Prints the snapshots of one stream; `payloads` holds each snapshot's
// payload (empty for a damaged one), by index into `infos`. States show
// as EventPrinter shows payloads.
void PrintSnapshots(const Options& o, Schema* schema, PluginDecoder* decoder,
                    std::string_view stream,
                    const std::vector<SnapshotInfo>& infos,
                    const std::vector<std::string>& payloads);

}  // namespace memoir::cli

#endif  // MEMOIR_TOOLS_CLI_EVENT_ROWS_H_

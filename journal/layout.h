// The journal's on-disk layout (store format version 3: version 1 plus the
// type index; version 3 changes only the outbox, lib/store/messages.cc).
//
// One LMDB environment per store. All integers in keys are big-endian so
// byte order is numeric order; integers in values are little-endian.
//
//   meta          "format_version"       -> u64        (storage layer)
//                 "journal.indexed_to"   -> u64        every event at or
//                     below this position is in stream_index, tag_index and
//                     its stream row
//                 "journal.last_position"-> u64        highest position ever
//                     assigned, kept across deletions
//                 "journal.types_indexed_from" -> u64  the first position
//                     the type index covers (stores written before it
//                     existed: the position the first writer that knew it
//                     started at); absent until then
//   names         stream name bytes      -> stream id u64
//   streams       stream id u64          -> stream row
//   stream_meta   stream id u64          -> checksum u64 ++ user metadata
//                     (Journal::SetStreamMetadata; absent when none is set;
//                     written by stores since 0.2 without a format change:
//                     older code ignores the table)
//   log           position u64           -> event record
//   stream_index  stream id u64 ++ seq u64 -> position u64
//   tag_index     tag bytes ++ 0x00 ++ position u64 -> (empty)
//                 0x00 ++ u8 type length ++ type bytes ++ 0x00
//                     ++ position u64 -> (empty)
//                     the type index: no tag starts with 0x00 (tags have
//                     no NUL), and the length byte keeps each type's keys
//                     together even when a type is another plus NULs.
//                     Every event at or above "journal.types_indexed_from"
//                     has its entry.
//
//   event record  := checksum u64 ++ envelope
//     checksum    := XXH3-64 (storage/checksum.h) of the envelope bytes
//     envelope    := FlatBuffer EventEnvelope (journal/envelope.fbs)
//   stream row    := checksum u64 ++ head u64 ++ deleted_to u64
//                    ++ event_count u64 ++ created_ns i64 ++ last_write_ns i64
//                    ++ flags u32 ++ name_length u32 ++ name bytes
//     checksum    := XXH3-64 of everything after it; flags bit 0: tombstone
//
// Why a log plus a deferred index. A commit touching k streams in a layout
// keyed by (stream, seq) rewrites about one 4 KiB leaf page per stream, so
// durable group commits over many streams cost a page per event. Appending
// to `log` under MDB_APPEND fills pages densely instead: a commit of n small
// events writes about n/20 pages. The per-stream index, the tag index and
// the stream rows are derived from the log and written in bulk every
// StoreOptions::index_flush_events events (and on close and before
// deletions), when each stream's page is rewritten once for many events.
// Events above `journal.indexed_to` form the unindexed tail: the writing
// process keeps it in memory, readers in other processes rebuild it by
// scanning the log from indexed_to (at most index_flush_events records), and
// a crash loses nothing because the log is the truth. Replay of a stream
// walks the log with a cursor: the next record is taken when its checked
// envelope is the stream's next event (a stream written in runs), and the
// index (or the tail) is asked only across the gaps between runs.
//
// Envelopes are written in two canonical FlatBuffers layouts (record.h):
// the second, for events with ids or metadata, only adds fields to the
// schema. Readers recognise both with a few exact comparisons; any other
// valid envelope (such as those written through a FlatBufferBuilder by
// earlier versions) goes through the FlatBuffers verifier. A reader that
// predates the new fields would take the second layout through the
// verifier and read the event without them.
#ifndef MEMOIR_JOURNAL_LAYOUT_H_
#define MEMOIR_JOURNAL_LAYOUT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace memoir::internal {

inline constexpr char kMetaIndexedTo[] = "journal.indexed_to";
inline constexpr char kStreamMetaDb[] = "stream_meta";

inline constexpr char kMetaLastPosition[] = "journal.last_position";
inline constexpr char kMetaTypesIndexedFrom[] = "journal.types_indexed_from";

// The tag_index "tag" under which events of `type` (1 to 255 bytes) are
// indexed.
inline std::string TypeIndexTag(std::string_view type) {
  std::string key(1, '\0');
  key.push_back(static_cast<char>(static_cast<unsigned char>(type.size())));
  key.append(type);
  return key;
}

inline constexpr size_t kStreamRowFixedBytes = 56;
inline constexpr uint32_t kStreamRowTombstone = 1;

}  // namespace memoir::internal

#endif  // MEMOIR_JOURNAL_LAYOUT_H_

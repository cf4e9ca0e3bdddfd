// Reading the log and the meta table directly, for the journal's reads and
// its rebuild of the unindexed tail (journal_impl.h): a cursor that steps
// instead of seeking when positions are consecutive, a page prefetcher for
// scans that check every byte, and the two small lookups of where the log
// and the index end. Not thread-safe; each belongs to one read transaction.
#ifndef MEMOIR_JOURNAL_LOG_CURSOR_H_
#define MEMOIR_JOURNAL_LOG_CURSOR_H_

#include <lmdb.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "storage/bytes.h"
#include "storage/lmdb_handles.h"

namespace memoir::internal {

// A cursor over the log that steps with MDB_NEXT when positions are
// consecutive (a stream written in runs) and seeks otherwise.
class LogReader {
 public:
  LogReader(MDB_txn* txn, MDB_dbi log) : txn_(txn), log_(log) {}
  ~LogReader() {
    if (cur_ != nullptr) mdb_cursor_close(cur_);
  }
  int Get(uint64_t position, MDB_val* val) {
    if (cur_ == nullptr) {
      int rc = mdb_cursor_open(txn_, log_, &cur_);
      if (rc != 0) return rc;
    }
    MDB_val k;
    int rc;
    if (have_ && position == last_ + 1) {
      rc = mdb_cursor_get(cur_, &k, val, MDB_NEXT);
      if (rc == 0 && (k.mv_size != 8 || GetBig64(static_cast<const char*>(
                                            k.mv_data)) != position)) {
        rc = MDB_NOTFOUND;
      }
    } else {
      Key64 key(position);
      k = MDB_val{8, key.bytes};
      rc = mdb_cursor_get(cur_, &k, val, MDB_SET_KEY);
    }
    have_ = rc == 0;
    last_ = position;
    return rc;
  }

 private:
  MDB_txn* txn_;
  MDB_dbi log_;
  MDB_cursor* cur_ = nullptr;
  bool have_ = false;
  uint64_t last_ = 0;
};

// Replays touch every byte of every record (checksum, verifier, decode),
// while LMDB's cursor reads only node headers. A log written in large
// commits is mostly laid out in order, so each record asks for the bytes
// one page further on in the direction of the scan: the next page arrives
// while this one is checked, a few lines per record. (LMDB fills a leaf
// page from its end, so a forward scan walks each page downwards, and the
// same offset in the next page is where that page's walk will be a page
// later.) Requesting a whole page at its first record stalled the scan
// until the line fill buffers drained: a 1M-event replay took 62 ns per
// event that way, 50 ns this way. When the guess is wrong a prefetch costs
// only bandwidth (it never faults). LMDB's page is the OS page, 4 KiB on
// the platforms memoir runs on.
class PagePrefetcher {
 public:
  explicit PagePrefetcher(bool backward) : backward_(backward) {}
  void Touch(const void* p, size_t size) {
    const uintptr_t at = reinterpret_cast<uintptr_t>(p);
    const uintptr_t ahead = backward_ ? at - kPage : at + kPage;
    // (A record larger than a page lies on overflow pages of its own, which
    // the checksum reads in order: a page ahead of its start is enough.)
    const uintptr_t end = ahead + std::min<size_t>(size, kPage);
    for (uintptr_t line = ahead & ~uintptr_t{63}; line < end; line += 64) {
      __builtin_prefetch(reinterpret_cast<const void*>(line));
    }
  }

 private:
  static constexpr uintptr_t kPage = 4096;
  bool backward_;
};

// The little-endian counter `name` of the meta table; 0 when it is absent
// or not 8 bytes (a store that never flushed its index).
inline uint64_t ReadMeta64(MDB_txn* txn, MDB_dbi meta, const char* name) {
  MDB_val k{std::strlen(name), const_cast<char*>(name)};
  MDB_val v;
  if (mdb_get(txn, meta, &k, &v) != 0 || v.mv_size != 8) return 0;
  return GetLittle64(static_cast<const char*>(v.mv_data));
}

// The position of the log's last record in *out (0: the log is empty).
// Returns an LMDB code.
inline int LastLogPosition(MDB_txn* txn, MDB_dbi log, uint64_t* out) {
  CursorCloser cur;
  int rc = mdb_cursor_open(txn, log, &cur.c);
  if (rc != 0) return rc;
  MDB_val k, v;
  rc = mdb_cursor_get(cur.c, &k, &v, MDB_LAST);
  if (rc == MDB_NOTFOUND) {
    *out = 0;
    return 0;
  }
  if (rc != 0) return rc;
  *out = k.mv_size == 8 ? GetBig64(static_cast<const char*>(k.mv_data)) : 0;
  return 0;
}

}  // namespace memoir::internal

#endif  // MEMOIR_JOURNAL_LOG_CURSOR_H_

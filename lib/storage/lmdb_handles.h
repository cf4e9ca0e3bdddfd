// Owners for LMDB handles that must be released on every path.
#ifndef MEMOIR_STORAGE_LMDB_HANDLES_H_
#define MEMOIR_STORAGE_LMDB_HANDLES_H_

#include <lmdb.h>

namespace memoir::internal {

// Closes the cursor it holds, if any.
struct CursorCloser {
  MDB_cursor* c = nullptr;
  CursorCloser() = default;
  CursorCloser(const CursorCloser&) = delete;
  CursorCloser& operator=(const CursorCloser&) = delete;
  ~CursorCloser() {
    if (c != nullptr) mdb_cursor_close(c);
  }
};

// Aborts the transaction it holds unless it was released (set to null,
// as after a commit).
struct TxnAborter {
  MDB_txn* txn = nullptr;
  TxnAborter() = default;
  TxnAborter(const TxnAborter&) = delete;
  TxnAborter& operator=(const TxnAborter&) = delete;
  ~TxnAborter() {
    if (txn != nullptr) mdb_txn_abort(txn);
  }
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_LMDB_HANDLES_H_

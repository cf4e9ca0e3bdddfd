// BlockingOp: a write op, given as a function, whose submitter waits for
// it (the store layer's small writes: checkpoints, parked events,
// projection batches).
#ifndef MEMOIR_STORE_BLOCKING_OP_H_
#define MEMOIR_STORE_BLOCKING_OP_H_

#include <lmdb.h>

#include <functional>
#include <utility>

#include "memoir/status.h"
#include "storage/writer.h"

namespace memoir::internal {

class BlockingOp final : public WriteOp {
 public:
  // `apply` follows WriteOp::Apply's contract; it may run more than once
  // (a group retried after growing the map).
  BlockingOp(size_t bytes, std::function<int(MDB_txn*, Status*)> apply)
      : bytes_(bytes), apply_(std::move(apply)) {}
  size_t bytes() const override { return bytes_; }
  int Apply(MDB_txn* txn, Status* op_status) override {
    return apply_(txn, op_status);
  }
  void Done(Status status) override { status_ = std::move(status); }
  WaitNode* wait_node() override { return &woken_; }

  // Submits the op to `writer` and waits for its outcome.
  Status SubmitAndWait(Writer* writer) {
    writer->SubmitBorrowed(this);
    woken_.Wait();
    return status_;
  }

 private:
  size_t bytes_;
  std::function<int(MDB_txn*, Status*)> apply_;
  WaitNode woken_;
  Status status_;
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORE_BLOCKING_OP_H_

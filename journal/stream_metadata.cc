// Streams' user metadata (Journal::SetStreamMetadata, GetStreamMetadata):
// one record per stream in the stream_meta table (layout.h), written by the
// writer thread and read in one view with the stream's row.
#include <fmt/format.h>

#include <cstring>
#include <future>

#include "journal/journal_impl.h"
#include "journal/layout.h"
#include "storage/bytes.h"
#include "storage/checksum.h"
#include "storage/lmdb_error.h"

namespace memoir::internal {
namespace {

class SetMetadataOp final : public WriteOp {
 public:
  SetMetadataOp(JournalImpl* journal, std::string name, std::string metadata,
                std::optional<uint64_t> expected_head)
      : journal_(journal),
        name_(std::move(name)),
        metadata_(std::move(metadata)),
        expected_head_(expected_head) {}
  size_t bytes() const override { return metadata_.size() + 64; }
  int Apply(MDB_txn* txn, Status* op_status) override {
    return journal_->ApplySetMetadata(txn, name_, metadata_, expected_head_,
                                      op_status);
  }
  void Done(Status status) override { promise_.set_value(std::move(status)); }
  std::future<Status> future() { return promise_.get_future(); }

 private:
  JournalImpl* journal_;
  std::string name_;
  std::string metadata_;
  std::optional<uint64_t> expected_head_;
  std::promise<Status> promise_;
};

}  // namespace

std::string EncodeStreamMetadata(std::string_view metadata) {
  std::string out(8, '\0');
  out.append(metadata);
  PutLittle64(out.data(), Checksum(out.data() + 8, metadata.size()));
  return out;
}

Status DecodeStreamMetadata(std::string_view record, std::string_view stream,
                            std::string* metadata) {
  if (record.size() < 8 || GetLittle64(record.data()) !=
                               Checksum(record.data() + 8, record.size() - 8)) {
    return Status::Corruption(fmt::format(
        "stream '{}': its metadata record ({} bytes) fails its checksum; set "
        "the metadata again (Journal::SetStreamMetadata) to replace it",
        stream, record.size()));
  }
  metadata->assign(record.substr(8));
  return Status::OK();
}

Status JournalImpl::SetStreamMetadata(std::string_view stream,
                                      std::string_view metadata,
                                      std::optional<uint64_t> expected_head) {
  Status s = RefuseWrites();
  if (s.ok()) s = ValidateStreamName(stream);
  if (!s.ok()) return s;
  if (metadata.size() > kMaxMetadataBytes) {
    return Status::InvalidArgument(
        fmt::format("stream '{}': metadata of {} bytes exceeds the limit of {}",
                    stream, metadata.size(), kMaxMetadataBytes));
  }
  auto op = std::make_unique<SetMetadataOp>(
      this, std::string(stream), std::string(metadata), expected_head);
  auto done = op->future();
  writer_->Submit(std::move(op));
  return done.get();
}

int JournalImpl::ApplySetMetadata(MDB_txn* txn, const std::string& name,
                                  const std::string& metadata,
                                  std::optional<uint64_t> expected_head,
                                  Status* op_status) {
  WriterStream* ws = nullptr;
  int rc = 0;
  Status s = FindStream(txn, name, HashName(name), &ws, &rc);
  if (rc != 0) return rc;
  if (s.ok() && ws == nullptr) {
    s = Status::NotFound(fmt::format(
        "stream '{}' does not exist; append to it before setting its "
        "metadata",
        name));
  }
  if (!s.ok()) {
    *op_status = s;
    return 0;
  }
  const StreamState st = ws->txn_epoch == t_epoch_ ? ws->txn : ws->committed;
  if (st.deleted) {
    *op_status = Status::StreamDeleted(fmt::format(
        "stream '{}' was deleted; its metadata cannot be set", name));
    return 0;
  }
  if (expected_head && *expected_head != st.head) {
    *op_status = Status::Conflict(
        fmt::format("stream '{}': expected head {}, but its head is {}; its "
                    "metadata was not changed",
                    name, *expected_head, st.head),
        st.head);
    return 0;
  }
  Key64 key(st.id);
  MDB_val k{8, key.bytes};
  if (metadata.empty()) {
    rc = mdb_del(txn, dbs_.stream_meta, &k, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
  }
  std::string record = EncodeStreamMetadata(metadata);
  MDB_val v{record.size(), record.data()};
  return mdb_put(txn, dbs_.stream_meta, &k, &v, 0);
}

int JournalImpl::DeleteStreamMetadata(MDB_txn* txn, uint64_t id) {
  Key64 key(id);
  MDB_val k{8, key.bytes};
  int rc = mdb_del(txn, dbs_.stream_meta, &k, nullptr);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

Result<std::string> JournalImpl::GetStreamMetadata(std::string_view stream) {
  StreamRead r;
  Status s = ReadStream(stream, &r);
  if (!s.ok()) return s;
  StreamInfo info = MakeInfo(r.id, r.row, r.tail);
  if (info.deleted) {
    return Status::StreamDeleted(
        fmt::format("stream '{}' was deleted (its metadata with it)", stream));
  }
  if (info.head == 0) {
    return Status::NotFound(fmt::format("stream '{}' does not exist", stream));
  }
  std::string metadata;
  if (!has_stream_meta_) return metadata;  // an older store: none set
  Key64 key(r.id);
  MDB_val k{8, key.bytes};
  MDB_val v;
  int rc = mdb_get(r.view.txn->get(), dbs_.stream_meta, &k, &v);
  if (rc == MDB_NOTFOUND) return metadata;
  if (rc != 0) {
    return MdbStatus(rc, fmt::format("reading stream '{}' metadata", stream));
  }
  s = DecodeStreamMetadata(
      std::string_view(static_cast<const char*>(v.mv_data), v.mv_size), stream,
      &metadata);
  if (!s.ok()) return s;
  return metadata;
}

}  // namespace memoir::internal

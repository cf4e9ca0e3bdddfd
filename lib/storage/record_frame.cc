#include "storage/record_frame.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "storage/bytes.h"
#include "storage/checksum.h"

namespace memoir::internal {

RecordBuffer RecordBuffer::Wrap(const void* body, size_t size) {
  RecordBuffer r;
  r.size_ = kRecordHeaderBytes + size;
  r.words_.resize((r.size_ + 7) / 8);
  std::memcpy(r.body(), body, size);
  return r;
}

void RecordBuffer::Seal() { SealRecord(mutable_data(), size_); }

void SealRecord(char* record, size_t size) {
  PutLittle64(record,
              Checksum(record + kRecordHeaderBytes, size - kRecordHeaderBytes));
}

const char* AlignedScratch::Hold(const char* data, size_t size) {
  // (Zero bytes need no alignment, and an empty scratch has no memory.)
  if (reinterpret_cast<uintptr_t>(data) % 16 == 0 || size == 0) return data;
  return Copy(data, size);
}

const char* AlignedScratch::Copy(const char* data, size_t size) {
  const size_t blocks = (size + 15) / 16;
  if (!keep_) {
    if (blocks_.size() < blocks) blocks_.resize(std::max<size_t>(blocks, 1));
    if (size != 0) std::memcpy(blocks_.data(), data, size);
    return blocks_.data()->bytes;
  }
  if (kept_.empty() || kept_.back().size() - kept_used_ < blocks) {
    kept_.emplace_back(std::max(blocks, kKeptChunkBlocks));
    kept_used_ = 0;
  }
  Block* at = kept_.back().data() + kept_used_;
  kept_used_ += blocks;
  if (size != 0) std::memcpy(at, data, size);
  return at->bytes;
}

Status OpenRecord(const char* data, size_t size, std::string_view kind,
                  AlignedScratch* scratch, const char** body,
                  size_t* body_size) {
  const char* raw = nullptr;
  Status s = CheckRecordFrame(data, size, kind, &raw, body_size);
  if (!s.ok()) return s;
  *body = scratch->Hold(raw, *body_size);
  return Status::OK();
}

Status CheckRecordFrame(const char* data, size_t size, std::string_view kind,
                        const char** body, size_t* body_size) {
  // The smallest FlatBuffer with an identifier is 8 bytes.
  if (size < kRecordHeaderBytes + 8 || size > (size_t{1} << 31) - 1) {
    return Status::Corruption(fmt::format(
        "{} record has an impossible length of {} bytes", kind, size));
  }
  const char* raw = data + kRecordHeaderBytes;
  const size_t n = size - kRecordHeaderBytes;
  const uint64_t stored = GetLittle64(data);
  const uint64_t actual = Checksum(raw, n);
  if (stored != actual) {
    return Status::Corruption(fmt::format(
        "{} record checksum mismatch (stored {:016x}, computed {:016x})", kind,
        stored, actual));
  }
  *body = raw;
  *body_size = n;
  return Status::OK();
}

}  // namespace memoir::internal

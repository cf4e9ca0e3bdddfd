// The frame every stored record (event or snapshot) shares:
//
//   record   := checksum u64 (little-endian) ++ body
//   checksum := XXH3-64 (checksum.h) of the body
//
// The body is a FlatBuffer envelope. Writers build it in an 8-byte-aligned
// RecordBuffer so scalars can be patched in place before sealing; readers
// check length and checksum first, then get the body in 16-byte-aligned
// memory (LMDB aligns values to 2 bytes only), so the envelope and a nested
// FlatBuffer in its payload can be read in place. (Event records in the
// canonical layout are read where they lie; only a misaligned payload is
// copied: journal/record.h.)
#ifndef MEMOIR_STORAGE_RECORD_FRAME_H_
#define MEMOIR_STORAGE_RECORD_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "memoir/status.h"

namespace memoir::internal {

inline constexpr size_t kRecordHeaderBytes = 8;

class RecordBuffer {
 public:
  // Copies `body` behind a zero checksum.
  static RecordBuffer Wrap(const void* body, size_t size);
  char* body() { return mutable_data() + kRecordHeaderBytes; }
  size_t body_size() const { return size_ - kRecordHeaderBytes; }
  // Computes the checksum over the body; call after the last patch.
  void Seal();
  const char* data() const {
    return reinterpret_cast<const char*>(words_.data());
  }
  size_t size() const { return size_; }

 private:
  char* mutable_data() { return reinterpret_cast<char*>(words_.data()); }
  std::vector<uint64_t> words_;
  size_t size_ = 0;
};

// Computes the checksum of the record of `size` bytes at `record` (8-byte
// aligned) over its body and stores it in the header.
void SealRecord(char* record, size_t size);

// Reusable 16-byte-aligned memory for bytes that are not so aligned. Hold
// returns `data` itself when it is aligned (or `size` is 0), else a copy.
// A copy lives until the next Hold, or, for a keeping scratch, as long as
// the scratch: a reader that keeps the views of many records at once
// (Journal::ScanAllThen) needs each record's copy to stay where it is.
class AlignedScratch {
 public:
  AlignedScratch() = default;
  explicit AlignedScratch(bool keep) : keep_(keep) {}
  const char* Hold(const char* data, size_t size);
  // Always a copy, 16-byte aligned (size 0: an empty one).
  const char* Copy(const char* data, size_t size);

 private:
  struct alignas(16) Block {
    char bytes[16];
  };
  static constexpr size_t kKeptChunkBlocks = 4096;  // 64 KiB
  std::vector<Block> blocks_;
  const bool keep_ = false;
  // Keeping: chunks that never move, filled in turn.
  std::vector<std::vector<Block>> kept_;
  size_t kept_used_ = 0;  // blocks used in kept_.back()
};

// Checks the frame: a length the FlatBuffers verifier accepts (it asserts
// near 2 GiB) and a matching checksum. On success *body points to the body
// in 16-byte-aligned memory. On failure returns kCorruption saying what is
// wrong with the `kind` of record ("event", "snapshot").
Status OpenRecord(const char* data, size_t size, std::string_view kind,
                  AlignedScratch* scratch, const char** body,
                  size_t* body_size);

// As OpenRecord, without moving the body: *body points into `data`.
Status CheckRecordFrame(const char* data, size_t size, std::string_view kind,
                        const char** body, size_t* body_size);

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_RECORD_FRAME_H_

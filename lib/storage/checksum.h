// Record checksums: XXH3-64 over the record's bytes.
//
// XXH3 runs at memory speed on the small records of a journal and is the
// checksum used by the zstd and RocksDB formats; it catches the single-bit
// flips and torn writes a journal must detect. It is not a defence against
// deliberate tampering.
#ifndef MEMOIR_STORAGE_CHECKSUM_H_
#define MEMOIR_STORAGE_CHECKSUM_H_

#include <cstddef>
#include <cstdint>

namespace memoir::internal {

uint64_t Checksum(const void* data, size_t size);

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_CHECKSUM_H_

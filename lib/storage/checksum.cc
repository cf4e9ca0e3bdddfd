#include "storage/checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace memoir::internal {

// A fixed seed distinguishes memoir records from other XXH3 users; changing
// it is a format change.
constexpr uint64_t kSeed = 0x6d656d6f69722031ULL;  // "memoir 1"

uint64_t Checksum(const void* data, size_t size) {
  return XXH3_64bits_withSeed(data, size, kSeed);
}

}  // namespace memoir::internal

// Fixed-width big-endian integers for LMDB keys (so that byte order is
// numeric order) and little-endian ones for record headers.
#ifndef MEMOIR_STORAGE_BYTES_H_
#define MEMOIR_STORAGE_BYTES_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace memoir::internal {

// memcpy plus a byte swap compiles to one load or store and one bswap; the
// loops it replaces did not (they ran per byte at -O2).
inline void PutBig64(char* out, uint64_t v) {
  if constexpr (std::endian::native == std::endian::little) {
    v = __builtin_bswap64(v);
  }
  std::memcpy(out, &v, 8);
}
inline uint64_t GetBig64(const char* in) {
  uint64_t v;
  std::memcpy(&v, in, 8);
  if constexpr (std::endian::native == std::endian::little) {
    v = __builtin_bswap64(v);
  }
  return v;
}
inline void PutBig32(char* out, uint32_t v) {
  if constexpr (std::endian::native == std::endian::little) {
    v = __builtin_bswap32(v);
  }
  std::memcpy(out, &v, 4);
}
inline uint32_t GetBig32(const char* in) {
  uint32_t v;
  std::memcpy(&v, in, 4);
  if constexpr (std::endian::native == std::endian::little) {
    v = __builtin_bswap32(v);
  }
  return v;
}
inline void AppendBig64(std::string* out, uint64_t v) {
  char buf[8];
  PutBig64(buf, v);
  out->append(buf, 8);
}
// Little-endian, as FlatBuffers stores scalars.
inline void PutLittle16(char* out, uint16_t v) {
  out[0] = static_cast<char>(v & 0xff);
  out[1] = static_cast<char>(v >> 8);
}
inline void PutLittle32(char* out, uint32_t v) {
  if constexpr (std::endian::native == std::endian::big) {
    v = __builtin_bswap32(v);
  }
  std::memcpy(out, &v, 4);
}
inline uint32_t GetLittle32(const char* in) {
  uint32_t v;
  std::memcpy(&v, in, 4);
  if constexpr (std::endian::native == std::endian::big) {
    v = __builtin_bswap32(v);
  }
  return v;
}
inline void PutLittle64(char* out, uint64_t v) {
  if constexpr (std::endian::native == std::endian::big) {
    v = __builtin_bswap64(v);
  }
  std::memcpy(out, &v, 8);
}
inline uint64_t GetLittle64(const char* in) {
  uint64_t v;
  std::memcpy(&v, in, 8);
  if constexpr (std::endian::native == std::endian::big) {
    v = __builtin_bswap64(v);
  }
  return v;
}

// A 16-byte key (a, b), both big-endian: (stream id, seq) and the like.
struct Key128 {
  char bytes[16];
  Key128(uint64_t a, uint64_t b) {
    PutBig64(bytes, a);
    PutBig64(bytes + 8, b);
  }
};
struct Key64 {
  char bytes[8];
  explicit Key64(uint64_t a) { PutBig64(bytes, a); }
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_BYTES_H_

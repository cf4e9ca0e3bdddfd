#include "memoir/uuid.h"

#include <chrono>
#include <random>

namespace memoir {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Where the hyphens of the text form are.
bool IsHyphenAt(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

}  // namespace

Uuid Uuid::Generate() {
  // One generator per thread, seeded from the operating system (through
  // std::random_device, which reads getrandom on Linux).
  thread_local std::mt19937_64 random = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(),
                       device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  const uint64_t ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  const uint64_t a = random();
  const uint64_t b = random();
  Uuid u;
  // unix_ts_ms (48) | version 7 (4) | rand_a (12)
  u.hi = (ms << 16) | (uint64_t{7} << 12) | (a & 0xfff);
  // variant 0b10 (2) | rand_b (62)
  u.lo = (uint64_t{2} << 62) | (b >> 2);
  return u;
}

std::optional<Uuid> Uuid::Parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  Uuid u;
  int digits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (IsHyphenAt(i)) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    const int v = HexValue(text[i]);
    if (v < 0) return std::nullopt;
    uint64_t& word = digits < 16 ? u.hi : u.lo;
    word = (word << 4) | static_cast<uint64_t>(v);
    ++digits;
  }
  return u;
}

std::string Uuid::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  int digit = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (IsHyphenAt(i)) continue;
    const uint64_t word = digit < 16 ? hi : lo;
    const int shift = 60 - 4 * (digit % 16);
    out[i] = kHex[(word >> shift) & 0xf];
    ++digit;
  }
  return out;
}

}  // namespace memoir

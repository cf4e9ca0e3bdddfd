#include "memoir/uuid.h"

#include <unistd.h>

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
  // std::random_device, which reads getrandom on Linux), and seeded again
  // in a child after fork: parent and child must not draw the same ids.
  struct Source {
    pid_t pid = -1;
    std::mt19937_64 random;
    uint64_t last_ms = 0;
    uint64_t counter = 0;  // rand_a: counts up within a millisecond
  };
  thread_local Source source;
  const pid_t pid = getpid();
  if (source.pid != pid) {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(),
                       device(), device(), device(), device()};
    source.random.seed(seed);
    source.pid = pid;
    source.last_ms = 0;
  }
  const uint64_t ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  // RFC 9562 method 1: a 12-bit counter in rand_a, starting at a random
  // value below 2048 each millisecond, so ids of one thread sort in
  // generation order (past 4,096 ids in a millisecond, the clock is
  // borrowed from).
  if (ms > source.last_ms) {
    source.last_ms = ms;
    source.counter = source.random() & 0x7ff;
  } else if (++source.counter > 0xfff) {
    ++source.last_ms;
    source.counter = 0;
  }
  Uuid u;
  // unix_ts_ms (48) | version 7 (4) | rand_a (12)
  u.hi = (source.last_ms << 16) | (uint64_t{7} << 12) | source.counter;
  // variant 0b10 (2) | rand_b (62)
  u.lo = (uint64_t{2} << 62) | (source.random() >> 2);
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

// Uuid: a 128-bit identifier, written as a UUID
// ("0190f5b2-7c1e-7a3d-9b1f-3c2d4e5f6a7b"). Event ids, causation ids and
// correlation ids are Uuids; all zero bits mean "none".
#ifndef MEMOIR_UUID_H_
#define MEMOIR_UUID_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "memoir/export.h"

namespace memoir {

struct MEMOIR_EXPORT Uuid {
  // The first 8 bytes of the UUID's text form, big-endian, then the last 8.
  uint64_t hi = 0;
  uint64_t lo = 0;

  // A new version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, a
  // 12-bit counter within the millisecond, then 62 random bits from a
  // generator seeded per thread (and again after fork) from the operating
  // system. Ids generated one after another in a thread sort in generation
  // order. Thread-safe.
  static Uuid Generate();

  // The 36-character text form, hex digits in either case; nullopt for
  // anything else (no braces, no "urn:uuid:").
  static std::optional<Uuid> Parse(std::string_view text);

  // Lowercase 36-character text form; all zeros for none.
  std::string ToString() const;

  bool empty() const { return (hi | lo) == 0; }
  explicit operator bool() const { return !empty(); }

  friend bool operator==(const Uuid&, const Uuid&) = default;
  friend auto operator<=>(const Uuid&, const Uuid&) = default;
};

}  // namespace memoir

template <>
struct std::hash<memoir::Uuid> {
  size_t operator()(const memoir::Uuid& u) const noexcept {
    // The random bits of a generated id are in lo; mix in hi for others.
    return static_cast<size_t>(u.lo ^ (u.hi * 0x9e3779b97f4a7c15ULL));
  }
};

#endif  // MEMOIR_UUID_H_

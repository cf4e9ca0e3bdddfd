#include "storage/key_order.h"

#include <fmt/format.h>

namespace memoir::internal {
namespace {

// At most 24 bytes, in hex; longer keys end in "...".
std::string Hex(std::string_view key) {
  std::string out;
  for (size_t i = 0; i < key.size() && i < 24; ++i) {
    if (i > 0) out += ' ';
    out += fmt::format("{:02x}", static_cast<unsigned char>(key[i]));
  }
  if (key.size() > 24) out += " ...";
  return out;
}

}  // namespace

std::string KeyOrder::Describe(const MDB_val& k) const {
  return fmt::format(
      "key {} after key {}",
      Hex(std::string_view(static_cast<const char*>(k.mv_data), k.mv_size)),
      Hex(last_));
}

}  // namespace memoir::internal

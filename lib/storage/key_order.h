// Checks that a cursor walk meets keys in increasing order.
//
// LMDB keeps each table's keys sorted (byte order, as memcmp: every memoir
// table uses LMDB's default comparator) and MDB_NEXT visits them so. In a
// damaged file whose branch pages repeat or point back at each other, a
// walk revisits leaves, possibly without end; the first key that does not
// sort after the one before it shows it.
#ifndef MEMOIR_STORAGE_KEY_ORDER_H_
#define MEMOIR_STORAGE_KEY_ORDER_H_

#include <lmdb.h>

#include <string>
#include <string_view>

namespace memoir::internal {

class KeyOrder {
 public:
  // True when `k` sorts strictly after the key passed before it (always
  // for the first).
  bool Next(const MDB_val& k) {
    std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
    // char_traits<char> compares as unsigned char: memcmp's order.
    if (have_ && key <= std::string_view(last_)) return false;
    last_.assign(key);
    have_ = true;
    return true;
  }
  // "key 00 00 .. after key 00 00 ..", in hex, for `k` refused by Next.
  std::string Describe(const MDB_val& k) const;

 private:
  std::string last_;
  bool have_ = false;
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_KEY_ORDER_H_

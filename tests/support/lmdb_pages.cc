// LMDB 0.9 page layout, as much of it as MakeBranchPagesRepeat needs
// (lmdb's mdb.c: MDB_page, MDB_node, MDB_meta, MDB_db):
//   page    := pgno u64 ++ pad u16 ++ flags u16 ++ lower u16 ++ upper u16
//              ++ node offsets u16 x ((lower - 16) / 2)
//   node    := lo u16 ++ hi u16 ++ flags u16 ++ key size u16 ++ key ++ data
//              (a branch node's child page is lo | hi << 16 | flags << 32;
//              a leaf node's data size is lo | hi << 16)
//   meta    := page header ++ magic u32 ++ version u32 ++ address u64
//              ++ map size u64 ++ db[2] ++ last page u64 ++ txn id u64
//   db      := pad u32 ++ flags u16 ++ depth u16 ++ branch pages u64
//              ++ leaf pages u64 ++ overflow pages u64 ++ entries u64
//              ++ root u64
// All little-endian on this machine. db[1] is the main table, whose leaf
// nodes map each named table to its db record.
#include "support/lmdb_pages.h"

#include <lmdb.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string_view>
#include <vector>

namespace memoir::test {
namespace {

constexpr size_t kHeader = 16;
constexpr uint16_t kBranch = 0x01;

class Pages {
 public:
  explicit Pages(std::string bytes) : bytes_(std::move(bytes)) {
    // db[0].pad of the first meta page holds the page size.
    if (bytes_.size() >= 4096) page_size_ = Get32(kHeader + 24);
  }
  bool ok() const {
    return bytes_.size() >= 2 * 4096 && page_size_ >= 512 &&
           bytes_.size() % page_size_ == 0;
  }
  // The offset of the newer of the two meta pages.
  size_t Meta() const {
    return Get64(kHeader + 128) >= Get64(page_size_ + kHeader + 128)
               ? 0
               : page_size_;
  }
  size_t Page(uint64_t pgno) const { return pgno * page_size_; }
  bool IsBranch(size_t page) const { return (Get16(page + 10) & kBranch) != 0; }
  size_t Count(size_t page) const { return (Get16(page + 12) - kHeader) / 2; }
  size_t Node(size_t page, size_t i) const {
    return page + Get16(page + kHeader + 2 * i);
  }
  uint64_t Child(size_t node) const {
    return Get16(node) | uint64_t{Get16(node + 2)} << 16 |
           uint64_t{Get16(node + 4)} << 32;
  }
  void SetChild(size_t node, uint64_t pgno) {
    Put16(node, static_cast<uint16_t>(pgno));
    Put16(node + 2, static_cast<uint16_t>(pgno >> 16));
    Put16(node + 4, static_cast<uint16_t>(pgno >> 32));
  }
  // The root page of named table `name`, looked up in the main table.
  std::optional<uint64_t> Root(const char* name) const {
    uint64_t pgno = Get64(Meta() + kHeader + 112);  // db[1].root
    for (int depth = 0; depth < 32; ++depth) {
      size_t page = Page(pgno);
      if (page + page_size_ > bytes_.size()) return std::nullopt;
      if (IsBranch(page)) {
        // Keys sort; the child for `name` is the last whose key is <= it.
        size_t pick = Node(page, 0);
        for (size_t i = 1; i < Count(page); ++i) {
          size_t node = Node(page, i);
          if (Key(node) <= std::string_view(name)) pick = node;
        }
        pgno = Child(pick);
        continue;
      }
      for (size_t i = 0; i < Count(page); ++i) {
        size_t node = Node(page, i);
        if (Key(node) == name) {
          return Get64(node + 8 + Get16(node + 6) + 40);
        }
      }
      return std::nullopt;
    }
    return std::nullopt;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string_view Key(size_t node) const {
    return std::string_view(bytes_).substr(node + 8, Get16(node + 6));
  }
  uint16_t Get16(size_t at) const {
    uint16_t v;
    std::memcpy(&v, bytes_.data() + at, 2);
    return v;
  }
  uint32_t Get32(size_t at) const {
    uint32_t v;
    std::memcpy(&v, bytes_.data() + at, 4);
    return v;
  }
  uint64_t Get64(size_t at) const {
    uint64_t v;
    std::memcpy(&v, bytes_.data() + at, 8);
    return v;
  }
  void Put16(size_t at, uint16_t v) { std::memcpy(bytes_.data() + at, &v, 2); }

  std::string bytes_;
  size_t page_size_ = 0;
};

}  // namespace

std::string MakeBranchPagesRepeat(const std::string& store, const char* db) {
  const std::string path = store + "/data.mdb";
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  Pages pages(std::move(bytes));
  if (!pages.ok()) return "cannot read " + path + " as an LMDB file";
  std::optional<uint64_t> root = pages.Root(db);
  if (!root) return std::string("no table ") + db + " in " + path;
  const size_t root_page = pages.Page(*root);
  if (!pages.IsBranch(root_page)) return std::string(db) + " is one page";
  std::vector<uint64_t> chain = {*root};
  for (size_t i = 0; i < pages.Count(root_page); ++i) {
    uint64_t child = pages.Child(pages.Node(root_page, i));
    if (!pages.IsBranch(pages.Page(child))) {
      return std::string(db) + " is only two levels deep";
    }
    chain.push_back(child);
  }
  if (chain.size() < 3) return std::string(db) + "'s root has one child";
  for (size_t c = 0; c + 1 < chain.size(); ++c) {
    const size_t page = pages.Page(chain[c]);
    for (size_t i = 0; i < pages.Count(page); ++i) {
      pages.SetChild(pages.Node(page, i), chain[c + 1]);
    }
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(pages.bytes().data(),
            static_cast<std::streamsize>(pages.bytes().size()));
  return out.good() ? std::string() : "cannot write " + path;
}

std::string FlipFirstRecordByte(const std::string& store, const char* db) {
  MDB_env* env = nullptr;
  if (mdb_env_create(&env) != 0) return "mdb_env_create failed";
  std::string why;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  MDB_cursor* cur = nullptr;
  MDB_val k, v;
  if (mdb_env_set_maxdbs(env, 16) != 0 ||
      mdb_env_open(env, store.c_str(), 0, 0644) != 0) {
    why = "cannot open " + store;
  } else if (mdb_txn_begin(env, nullptr, 0, &txn) != 0) {
    why = "cannot begin a write transaction";
  } else if (mdb_dbi_open(txn, db, 0, &dbi) != 0 ||
             mdb_cursor_open(txn, dbi, &cur) != 0 ||
             mdb_cursor_get(cur, &k, &v, MDB_FIRST) != 0 || v.mv_size == 0) {
    why = std::string("table ") + db + " has no record";
  } else {
    std::string record(static_cast<const char*>(v.mv_data), v.mv_size);
    record.back() = static_cast<char>(record.back() ^ 0x01);
    MDB_val nv{record.size(), record.data()};
    if (mdb_cursor_put(cur, &k, &nv, MDB_CURRENT) != 0) why = "put failed";
  }
  if (cur != nullptr) mdb_cursor_close(cur);
  if (txn != nullptr) {
    // A commit frees the transaction whether or not it succeeds.
    if (!why.empty()) {
      mdb_txn_abort(txn);
    } else if (mdb_txn_commit(txn) != 0) {
      why = "commit failed";
    }
  }
  mdb_env_close(env);
  return why;
}

}  // namespace memoir::test

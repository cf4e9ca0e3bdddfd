// The format of the projection databases (store/projections.h), shared by
// the batch writes (projections.cc) and the inline projections
// (projections_inline.cc).
#ifndef MEMOIR_STORE_PROJECTION_FORMAT_H_
#define MEMOIR_STORE_PROJECTION_FORMAT_H_

#include <fmt/format.h>
#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "memoir/journal.h"
#include "memoir/projection_store.h"
#include "storage/bytes.h"
#include "storage/checksum.h"
#include "storage/env.h"

namespace memoir::internal::projection_format {

constexpr char kRecords[] = "projections";
constexpr char kRows[] = "projection_rows";
constexpr size_t kRecordBytes = 32;
constexpr uint64_t kActive = 1;
constexpr uint64_t kRetired = 2;
// LMDB's default key limit (mdb_env_get_maxkeysize).
constexpr size_t kMaxKeyBytes = 511;

inline MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// name \0 version: the record's key, and the prefix of the version's rows.
inline std::string VersionKey(std::string_view name, uint32_t version) {
  std::string key(name);
  key.push_back('\0');
  for (int shift = 24; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((version >> shift) & 0xff));
  }
  return key;
}

inline std::string TablePrefix(std::string_view name, uint32_t version,
                               std::string_view table) {
  std::string key = VersionKey(name, version);
  key.append(table);
  key.push_back('\0');
  return key;
}
inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

inline Status CheckNamed(std::string_view what, std::string_view name) {
  Status s = ValidateStreamName(name);
  if (s.ok()) return s;
  return Status::InvalidArgument(fmt::format("{}: {}", what, s.message()));
}

// A record decoded.
struct Record {
  uint64_t checkpoint = 0;
  int64_t saved_ns = 0;
  uint64_t flags = 0;
};

inline Status Damaged(const Env& env, std::string_view name, uint32_t version,
                      size_t size) {
  return Status::Corruption(fmt::format(
      "the record of projection '{}' version {} in {} is damaged ({} bytes, "
      "checksum {}); reset the projection to rebuild it",
      name, version, env.dir(), size,
      size == kRecordBytes ? "wrong" : "not checked"));
}

inline Result<Record> Decode(const Env& env, std::string_view name,
                             uint32_t version, const MDB_val& value) {
  const char* bytes = static_cast<const char*>(value.mv_data);
  if (value.mv_size != kRecordBytes ||
      GetLittle64(bytes + 24) != Checksum(bytes, 24)) {
    return Damaged(env, name, version, value.mv_size);
  }
  Record r;
  r.checkpoint = GetLittle64(bytes);
  r.saved_ns = static_cast<int64_t>(GetLittle64(bytes + 8));
  r.flags = GetLittle64(bytes + 16);
  return r;
}

inline void Encode(const Record& r, char* out) {
  PutLittle64(out, r.checkpoint);
  PutLittle64(out + 8, static_cast<uint64_t>(r.saved_ns));
  PutLittle64(out + 16, r.flags);
  PutLittle64(out + 24, Checksum(out, 24));
}

// Splits a record key into name and version; false if malformed.
inline bool SplitKey(std::string_view key, std::string* name,
                     uint32_t* version) {
  if (key.size() < 6 || key[key.size() - 5] != '\0') return false;
  *name = std::string(key.substr(0, key.size() - 5));
  const auto* v =
      reinterpret_cast<const unsigned char*>(key.data() + key.size() - 4);
  *version = (uint32_t{v[0]} << 24) | (uint32_t{v[1]} << 16) |
             (uint32_t{v[2]} << 8) | uint32_t{v[3]};
  return true;
}

inline ProjectionVersion ToVersion(std::string name, uint32_t version,
                                   const Record& r) {
  ProjectionVersion out;
  out.name = std::move(name);
  out.version = version;
  out.checkpoint = r.checkpoint;
  out.saved_ns = r.saved_ns;
  out.active = (r.flags & kActive) != 0;
  out.retired = (r.flags & kRetired) != 0;
  return out;
}

// Reads a record in `txn`: nullopt when absent.
inline int GetRecord(const Env& env, MDB_txn* txn, MDB_dbi dbi,
                     std::string_view name, uint32_t version,
                     std::optional<Record>* out, Status* bad) {
  std::string key = VersionKey(name, version);
  MDB_val k = Val(key);
  MDB_val v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) {
    out->reset();
    return 0;
  }
  if (rc != 0) return rc;
  Result<Record> r = Decode(env, name, version, v);
  if (!r.ok()) {
    *bad = r.status();
    return 0;
  }
  *out = *r;
  return 0;
}

inline int PutRecord(MDB_txn* txn, MDB_dbi dbi, std::string_view name,
                     uint32_t version, const Record& r) {
  std::string key = VersionKey(name, version);
  char bytes[kRecordBytes];
  Encode(r, bytes);
  MDB_val k = Val(key);
  MDB_val v{kRecordBytes, bytes};
  return mdb_put(txn, dbi, &k, &v, 0);
}

// Checks one row write against the limits: a declared-table name, the key
// limit, the value limit. `name` is the projection's.
inline Status CheckRow(std::string_view name, std::string_view table,
                       std::string_view key,
                       const std::optional<std::string_view>& value) {
  Status s = CheckNamed("projection table", table);
  if (!s.ok()) return s.WithContext(fmt::format("projection '{}'", name));
  const size_t key_bytes = name.size() + 6 + table.size() + key.size();
  if (key_bytes > kMaxKeyBytes) {
    return Status::InvalidArgument(fmt::format(
        "projection '{}' table '{}': a key of {} bytes is too long ({} at "
        "most with these names)",
        name, table, key.size(), kMaxKeyBytes - (key_bytes - key.size())));
  }
  if (value && value->size() > kMaxPayloadBytes) {
    return Status::InvalidArgument(fmt::format(
        "projection '{}' table '{}': a value of {} bytes is over the limit "
        "of {}",
        name, table, value->size(), kMaxPayloadBytes));
  }
  return Status::OK();
}

}  // namespace memoir::internal::projection_format

#endif  // MEMOIR_STORE_PROJECTION_FORMAT_H_

// InspectStore (memoir/inspect.h): what a store holds, from one read.
#include "memoir/inspect.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "journal/journal_impl.h"
#include "journal/layout.h"
#include "journal/stream_row.h"
#include "snapshot/snapshot_store_impl.h"
#include "storage/bytes.h"
#include "storage/env.h"
#include "storage/key_order.h"
#include "storage/lmdb_error.h"
#include "store/store_internal.h"

namespace memoir {
namespace {

using internal::GetBig64;
using internal::GetLittle64;

// A little-endian u64 from `meta`, 0 when absent.
Result<uint64_t> Meta64(MDB_txn* txn, MDB_dbi meta, const char* name) {
  MDB_val k{std::strlen(name), const_cast<char*>(name)};
  MDB_val v;
  int rc = mdb_get(txn, meta, &k, &v);
  if (rc == MDB_NOTFOUND) return uint64_t{0};
  if (rc != 0) return internal::MdbStatus(rc, fmt::format("reading {}", name));
  if (v.mv_size != 8) {
    return Status::Corruption(
        fmt::format("meta '{}' holds {} bytes, not 8", name, v.mv_size));
  }
  return GetLittle64(static_cast<const char*>(v.mv_data));
}

Result<uint64_t> Entries(MDB_txn* txn, MDB_dbi dbi, const char* table) {
  MDB_stat st;
  int rc = mdb_stat(txn, dbi, &st);
  if (rc != 0) {
    return internal::MdbStatus(rc, fmt::format("counting the {} table", table));
  }
  return uint64_t{st.ms_entries};
}

// Counts tombstoned stream rows, checking each row on the way.
Result<uint64_t> CountDeleted(MDB_txn* txn, MDB_dbi streams) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, streams, &cur);
  if (rc != 0) return internal::MdbStatus(rc, "reading the streams table");
  uint64_t deleted = 0;
  MDB_val k, v;
  Status bad;
  internal::KeyOrder order;
  while (bad.ok() && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
    if (!order.Next(k)) {
      bad = internal::KeysOutOfOrder("streams", order.Describe(k));
      break;
    }
    internal::StreamRow row;
    Status s = internal::StreamRow::Decode(
        {static_cast<const char*>(v.mv_data), v.mv_size}, &row);
    if (!s.ok()) {
      uint64_t id =
          k.mv_size == 8 ? GetBig64(static_cast<const char*>(k.mv_data)) : 0;
      bad = s.WithContext(fmt::format("stream id {}", id));
    }
    deleted += row.tombstone ? 1 : 0;
  }
  mdb_cursor_close(cur);
  if (!bad.ok()) return bad;
  if (rc != MDB_NOTFOUND) {
    return internal::MdbStatus(rc, "reading the streams table");
  }
  return deleted;
}

// The newest log key, 0 for an empty log.
Result<uint64_t> LastLogKey(MDB_txn* txn, MDB_dbi log) {
  MDB_cursor* cur = nullptr;
  int rc = mdb_cursor_open(txn, log, &cur);
  if (rc != 0) return internal::MdbStatus(rc, "reading the log");
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  mdb_cursor_close(cur);
  if (rc == MDB_NOTFOUND) return uint64_t{0};
  if (rc != 0) return internal::MdbStatus(rc, "reading the log");
  if (k.mv_size != 8) return Status::Corruption("a log key is not 8 bytes");
  return GetBig64(static_cast<const char*>(k.mv_data));
}

int CollectReader(const char* msg, void* ctx) {
  auto* readers = static_cast<std::vector<ReaderSlot>*>(ctx);
  // Lines are "%10d %zx %s" (pid, thread, txn id or "-"), after a header.
  long long pid = 0;
  unsigned long long thread = 0;
  char txn[32] = {0};
  if (std::sscanf(msg, "%lld %llx %31s", &pid, &thread, txn) == 3) {
    ReaderSlot slot;
    slot.pid = pid;
    slot.thread = thread;
    slot.txn_id = txn[0] == '-' ? 0 : std::strtoull(txn, nullptr, 10);
    readers->push_back(slot);
  }
  return 0;
}

// The holder of <dir>/memoir.lock's flock, from the kernel's lock table.
// The lock file itself names its last holder, who may be gone.
std::string WriterOf(const std::string& dir) {
  std::string path = dir + "/memoir.lock";
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  const std::string id = fmt::format("{:02x}:{:02x}:{}", major(st.st_dev),
                                     minor(st.st_dev), st.st_ino);
  std::ifstream locks("/proc/locks");
  std::string line;
  long long holder = 0;
  while (holder == 0 && std::getline(locks, line)) {
    if (line.find("->") != std::string::npos) continue;  // a waiter
    if (line.find("FLOCK") == std::string::npos) continue;
    char type[16], mode[16], access[16], dev[64];
    long long pid = 0;
    if (std::sscanf(line.c_str(), "%*d: %15s %15s %15s %lld %63s", type, mode,
                    access, &pid, dev) == 5 &&
        id == dev) {
      holder = pid;
    }
  }
  if (holder == 0) return "";
  std::ifstream file(path);
  std::string who;
  std::getline(file, who);
  if (who.rfind(fmt::format("pid {} ", holder), 0) == 0) return who;
  return fmt::format("pid {}", holder);
}

}  // namespace

Result<StoreInfo> InspectStore(Store& store) {
  Result<internal::StoreParts> parts = internal::StoreInternal::PartsOf(store);
  if (!parts.ok()) return parts.status();
  internal::Env& env = *parts->env;
  StoreInfo info;
  info.path = store.path();
  MDB_envinfo ei;
  MDB_stat es;
  mdb_env_info(env.raw(), &ei);
  mdb_env_stat(env.raw(), &es);
  info.page_size = es.ms_psize;
  info.map_size = ei.me_mapsize;
  info.map_used = (ei.me_last_pgno + 1) * size_t{es.ms_psize};
  info.max_readers = ei.me_maxreaders;
  struct stat data {};
  if (stat((store.path() + "/data.mdb").c_str(), &data) == 0) {
    info.file_size = static_cast<size_t>(data.st_size);
  }

  Result<internal::ReadTxn> txn = env.BeginRead();
  if (!txn.ok()) return txn.status();
  MDB_txn* t = txn->get();
  const internal::JournalImpl::Dbs& dbs = parts->journal->dbs();
  Result<uint64_t> format = Meta64(t, dbs.meta, "format_version");
  Result<uint64_t> indexed = Meta64(t, dbs.meta, internal::kMetaIndexedTo);
  Result<uint64_t> last = Meta64(t, dbs.meta, internal::kMetaLastPosition);
  Result<uint64_t> last_log = LastLogKey(t, dbs.log);
  Result<uint64_t> streams = Entries(t, dbs.names, "names");
  Result<uint64_t> events = Entries(t, dbs.log, "log");
  Result<uint64_t> deleted = CountDeleted(t, dbs.streams);
  Result<uint64_t> snapshots = uint64_t{0};
  if (parts->snapshots->present()) {
    snapshots = Entries(t, parts->snapshots->dbi(), "snapshots");
  }
  for (const Result<uint64_t>* r : {&format, &indexed, &last, &last_log,
                                    &streams, &events, &deleted, &snapshots}) {
    if (!r->ok()) {
      return r->status().WithContext(fmt::format("inspecting {}", info.path));
    }
  }
  info.format_version = static_cast<uint32_t>(*format);
  info.indexed_to = *indexed;
  info.last_position = std::max(*last, *last_log);
  info.streams = *streams;
  info.deleted_streams = *deleted;
  info.events = *events;
  info.snapshots = *snapshots;
  if (!env.options().no_lock) {
    mdb_reader_list(env.raw(), CollectReader, &info.readers);
  }
  info.writer = WriterOf(store.path());
  return info;
}

}  // namespace memoir

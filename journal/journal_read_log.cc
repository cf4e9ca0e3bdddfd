// Reads across streams in commit order (journal_impl.h): every event from a
// position on (ScanAll), the events carrying a tag (ScanTag), and the last
// position a view shows.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "journal/journal_impl.h"
#include "journal/layout.h"
#include "journal/log_cursor.h"
#include "journal/tail_damage.h"
#include "storage/bytes.h"
#include "storage/lmdb_error.h"
#include "storage/lmdb_handles.h"

namespace memoir::internal {
namespace {

// The positions of `tag` in the stored tag index from `from_position` on,
// at most `max_count` and none above `bound`, ascending: positions that do
// not ascend are corruption.
Status ReadTagIndex(MDB_txn* txn, MDB_dbi tag_index, std::string_view tag,
                    uint64_t from_position, size_t max_count, uint64_t bound,
                    std::vector<uint64_t>* positions) {
  CursorCloser cur;
  int rc = mdb_cursor_open(txn, tag_index, &cur.c);
  if (rc != 0) return MdbStatus(rc, "reading the tag index");
  std::string key(tag);
  key.push_back('\0');
  const size_t prefix = key.size();
  AppendBig64(&key, from_position);
  MDB_val k{key.size(), key.data()};
  MDB_val v;
  for (rc = mdb_cursor_get(cur.c, &k, &v, MDB_SET_RANGE);
       rc == 0 && positions->size() < max_count;
       rc = mdb_cursor_get(cur.c, &k, &v, MDB_NEXT)) {
    if (k.mv_size != prefix + 8 ||
        std::memcmp(k.mv_data, key.data(), prefix) != 0) {
      break;
    }
    uint64_t pos = GetBig64(static_cast<const char*>(k.mv_data) + prefix);
    if (pos > bound) break;
    if (!positions->empty() && pos <= positions->back()) {
      return KeysOutOfOrder(
          "tag_index", fmt::format("tag '{}': position {} after position {}",
                                   tag, pos, positions->back()));
    }
    positions->push_back(pos);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    return MdbStatus(rc, "reading the tag index");
  }
  return Status::OK();
}

}  // namespace

Status JournalImpl::ScanAll(uint64_t from_position, size_t max_count,
                            const EventVisitor& visit) {
  Result<View> view = BeginView(
      [](MDB_txn*, const TailIndex&, uint64_t) { return Status::OK(); });
  if (!view.ok()) return view.status();
  return ScanLogIn(view->txn->get(), from_position, view->bound, max_count,
                   /*remember=*/true, visit);
}

Status JournalImpl::ScanAllThen(uint64_t from_position, size_t max_count,
                                const EventVisitor& visit,
                                const std::function<void()>& then) {
  Result<View> view = BeginView(
      [](MDB_txn*, const TailIndex&, uint64_t) { return Status::OK(); });
  if (!view.ok()) return view.status();
  return ScanLog(view->txn->get(), from_position, view->bound, max_count,
                 /*remember=*/true, /*backward=*/false, visit, &then);
}

Status JournalImpl::ScanAllBackward(uint64_t from_position, size_t max_count,
                                    const EventVisitor& visit) {
  if (from_position == 0 || max_count == 0) return Status::OK();
  Result<View> view = BeginView(
      [](MDB_txn*, const TailIndex&, uint64_t) { return Status::OK(); });
  if (!view.ok()) return view.status();
  const uint64_t start = std::min(from_position, view->bound);
  if (start == 0) return Status::OK();
  return ScanLog(view->txn->get(), start, view->bound, max_count,
                 /*remember=*/true, /*backward=*/true, visit);
}

Status JournalImpl::ScanLogIn(MDB_txn* txn, uint64_t from_position,
                              uint64_t bound, size_t max_count, bool remember,
                              const EventVisitor& visit) {
  return ScanLog(txn, from_position, bound, max_count, remember,
                 /*backward=*/false, visit);
}

Status JournalImpl::ScanLog(MDB_txn* txn, uint64_t from_position,
                            uint64_t bound, size_t max_count, bool remember,
                            bool backward, const EventVisitor& visit,
                            const std::function<void()>* then) {
  CursorCloser cur;
  int rc = mdb_cursor_open(txn, dbs_.log, &cur.c);
  if (rc != 0) return MdbStatus(rc, "reading the log");
  Key64 start(std::max<uint64_t>(from_position, 1));
  MDB_val k{8, start.bytes};
  MDB_val v;
  // With `then`, every view handed out stays valid until it returns.
  AlignedScratch scratch(/*keep=*/then != nullptr);
  DecodedEvent d;
  PagePrefetcher prefetch(backward);
  // Names of the streams met so far: one lookup per stream, not per event.
  std::unordered_map<uint64_t, std::string> names;
  uint64_t last_id = 0;
  const std::string* last_name = nullptr;
  size_t visited = 0;
  bool keep_going = true;
  rc = mdb_cursor_get(cur.c, &k, &v, MDB_SET_RANGE);
  if (backward) {
    // Backward from the first position at or below the start: the one
    // found, unless above it (then the one before), or the last when none
    // is at or above it.
    if (rc == MDB_NOTFOUND) {
      rc = mdb_cursor_get(cur.c, &k, &v, MDB_LAST);
    } else if (rc == 0 && k.mv_size == 8 &&
               GetBig64(static_cast<const char*>(k.mv_data)) > from_position) {
      rc = mdb_cursor_get(cur.c, &k, &v, MDB_PREV);
    }
  }
  const MDB_cursor_op step = backward ? MDB_PREV : MDB_NEXT;
  for (; rc == 0 && keep_going && visited < max_count;
       rc = mdb_cursor_get(cur.c, &k, &v, step)) {
    if (k.mv_size != 8) {
      return Status::Corruption("log key of the wrong size");
    }
    uint64_t pos = GetBig64(static_cast<const char*>(k.mv_data));
    if (backward ? pos > from_position : pos > bound) break;
    if (visited > 0 && (backward ? pos >= d.position : pos <= d.position)) {
      return KeysOutOfOrder(
          "log", fmt::format("position {} after position {}", pos, d.position));
    }
    prefetch.Touch(v.mv_data, v.mv_size);
    Status s = DecodeChecked(v, pos, "", 0, 0, &scratch, &d);
    if (!s.ok()) return s;
    if (then != nullptr && !d.tags.empty()) {
      // d's tag list is reused by the next record.
      d.tags = std::span<const std::string_view>(
          reinterpret_cast<const std::string_view*>(
              scratch.Copy(reinterpret_cast<const char*>(d.tags.data()),
                           d.tags.size() * sizeof(std::string_view))),
          d.tags.size());
    }
    if (last_name == nullptr || d.stream_id != last_id) {
      auto it = names.find(d.stream_id);
      if (it == names.end()) {
        Result<std::string> name = StreamName(txn, d.stream_id, remember);
        if (!name.ok())
          return name.status().WithContext(fmt::format("position {}", pos));
        it = names.emplace(d.stream_id, std::move(name).value()).first;
      }
      last_id = d.stream_id;
      last_name = &it->second;
    }
    ++visited;
    keep_going = Emit(*last_name, d, visit);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return MdbStatus(rc, "reading the log");
  if (then != nullptr) (*then)();
  return Status::OK();
}

Status JournalImpl::ScanTag(std::string_view tag, uint64_t from_position,
                            size_t max_count, const EventVisitor& visit) {
  if (tag.empty() || tag.size() > kMaxTagBytes ||
      tag.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("a tag must be 1 to {} bytes without NUL", kMaxTagBytes));
  }
  return ScanIndexed(tag, fmt::format("with tag '{}'", tag), from_position,
                     max_count, visit);
}

Status JournalImpl::ScanType(std::string_view type, uint64_t from_position,
                             size_t max_count, const EventVisitor& visit) {
  if (type.empty() || type.size() > kMaxTypeNameBytes) {
    return Status::InvalidArgument(
        fmt::format("a type name must be 1 to {} bytes, got {}",
                    kMaxTypeNameBytes, type.size()));
  }
  if (max_count == 0) return Status::OK();
  from_position = std::max<uint64_t>(from_position, 1);
  // Events below the type index's first position (a store written before
  // it existed) are found by walking the log; the rest through the index.
  uint64_t indexed_from = 0;
  {
    Result<View> view = BeginView(
        [](MDB_txn*, const TailIndex&, uint64_t) { return Status::OK(); });
    if (!view.ok()) return view.status();
    indexed_from =
        ReadMeta64(view->txn->get(), dbs_.meta, kMetaTypesIndexedFrom);
    if (indexed_from == 0) indexed_from = view->bound + 1;  // none yet
    if (from_position < indexed_from) {
      size_t found = 0;
      bool stopped = false;
      Status s = ScanLogIn(view->txn->get(), from_position, indexed_from - 1,
                           std::numeric_limits<size_t>::max(),
                           /*remember=*/true, [&](const EventView& e) {
                             if (e.type != type) return true;
                             ++found;
                             if (!visit(e)) {
                               stopped = true;
                               return false;
                             }
                             return found < max_count;
                           });
      if (!s.ok() || stopped || found == max_count) return s;
      max_count -= found;
      from_position = indexed_from;
    }
  }
  return ScanIndexed(TypeIndexTag(type), fmt::format("of type '{}'", type),
                     from_position, max_count, visit);
}

Status JournalImpl::ScanIndexed(std::string_view tag, std::string_view what,
                                uint64_t from_position, size_t max_count,
                                const EventVisitor& visit) {
  std::vector<uint64_t> tail_positions;
  std::vector<TailDamage> damage;
  Result<View> view =
      BeginView([&](MDB_txn*, const TailIndex& t, uint64_t bound) -> Status {
        for (const TailDamage& d : t.damaged) {
          if (d.position >= from_position && d.position <= bound) {
            damage.push_back(d);
          }
        }
        auto it = t.tags.find(tag);
        if (it == t.tags.end()) return Status::OK();
        for (uint64_t p : it->second) {
          if (p >= from_position && p <= bound) tail_positions.push_back(p);
        }
        return Status::OK();
      });
  if (!view.ok()) return view.status();
  MDB_txn* txn = view->txn->get();

  // A damaged tail record may carry the tag: reads that would pass it fail.
  auto damaged_before = [&](uint64_t pos) -> Status {
    if (damage.empty() || damage.front().position > pos) return Status::OK();
    const TailDamage& d = damage.front();
    return Status::Corruption(fmt::format(
        "{} failed its checks: {}; it may be one of the events {}, so reads "
        "of them past position {} fail; {}",
        DamageWhere(txn, d), d.reason, what, d.position - 1, kDamageAdvice));
  };
  LogReader log(txn, dbs_.log);
  AlignedScratch scratch;
  DecodedEvent d;
  bool keep_going = true;
  size_t emitted = 0;
  uint64_t next = std::max<uint64_t>(from_position, 1);
  std::vector<uint64_t> positions;
  // In rounds: entries of deleted events (left by a damaged record's
  // deletion, or a tail entry just after a flush that deleted) take no
  // part of max_count, so a short page always means the end.
  while (keep_going && emitted < max_count) {
    const size_t want = max_count - emitted;
    // The stored index's positions first, then, once it has no more, the
    // tail's above them (the tail may repeat the index's last entries just
    // after a flush).
    positions.clear();
    Status indexed = ReadTagIndex(txn, dbs_.tag_index, tag, next, want,
                                  view->bound, &positions);
    if (!indexed.ok()) return indexed;
    if (positions.size() < want) {
      const uint64_t last = positions.empty() ? next - 1 : positions.back();
      for (uint64_t p : tail_positions) {
        if (positions.size() >= want) break;
        if (p > last) positions.push_back(p);
      }
    }
    if (positions.empty()) break;
    next = positions.back() + 1;
    for (uint64_t pos : positions) {
      if (!keep_going) break;
      Status damaged = damaged_before(pos);
      if (!damaged.ok()) return damaged;
      MDB_val v;
      int rc = log.Get(pos, &v);
      if (rc == MDB_NOTFOUND) continue;  // the event was deleted
      if (rc != 0) return MdbStatus(rc, "reading the log");
      Status s = DecodeChecked(v, pos, "", 0, 0, &scratch, &d);
      if (!s.ok()) return s;
      Result<std::string> name = StreamName(txn, d.stream_id);
      if (!name.ok())
        return name.status().WithContext(fmt::format("position {}", pos));
      ++emitted;
      keep_going = Emit(*name, d, visit);
    }
  }
  if (keep_going && emitted < max_count) return damaged_before(kMaxSeq);
  return Status::OK();
}

int JournalImpl::LogHeadIn(MDB_txn* txn, uint64_t* head) {
  return LastLogPosition(txn, dbs_.log, head);
}

Result<uint64_t> JournalImpl::LastPosition() {
  Result<View> view = BeginView(
      [](MDB_txn*, const TailIndex&, uint64_t) { return Status::OK(); });
  if (!view.ok()) return view.status();
  return view->bound;
}

Result<uint64_t> JournalImpl::WaitForCommit(uint64_t after,
                                            std::chrono::milliseconds timeout,
                                            const std::atomic<bool>* cancel) {
  using Clock = std::chrono::steady_clock;
  if (writer_ != nullptr) {
    return commit_signal_.WaitAbove(after, std::max(timeout, {}), cancel);
  }
  // Read-only: the owner's notify file wakes this process; the position
  // itself is always read from LMDB. Without a usable file (none, foreign,
  // no write permission to register), re-read every 10 ms; with one, at
  // least every 100 ms in case the writer died or the file went stale.
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    std::shared_ptr<NotifyFile> file = ReaderNotify();
    const bool woken = file != nullptr && file->can_register();
    uint32_t seen = 0;
    if (woken) {
      file->Register();
      seen = file->word();
    }
    // After the word, as in CommitSignal::WaitAbove: a WakeCommitWaiters
    // from here on changes the word.
    const bool cancelled =
        cancel != nullptr && cancel->load(std::memory_order_seq_cst);
    Result<uint64_t> now_at = LastPosition();
    const Clock::duration left = deadline - Clock::now();
    if (!now_at.ok() || *now_at > after || left <= Clock::duration::zero() ||
        cancelled) {
      if (woken) file->Unregister();
      return now_at;
    }
    if (woken) {
      file->Wait(seen, std::min<Clock::duration>(
                           left, std::chrono::milliseconds(100)));
      file->Unregister();
    } else {
      // The owning process's signal is idle here: a wait on it that no
      // position ends, only the timeout or WakeCommitWaiters.
      commit_signal_.WaitAbove(
          kMaxSeq,
          std::min<Clock::duration>(left, std::chrono::milliseconds(10)),
          cancel);
    }
  }
}

void JournalImpl::WakeCommitWaiters() {
  commit_signal_.Wake();
  if (writer_ != nullptr) return;
  // The current file, and those it replaced that a waiter may still sleep
  // on (a writer that restarted made a new one).
  std::vector<std::shared_ptr<NotifyFile>> files;
  {
    std::lock_guard<std::mutex> lock(reader_notify_mu_);
    if (reader_notify_ != nullptr) files.push_back(reader_notify_);
    for (const std::weak_ptr<NotifyFile>& old : replaced_notify_) {
      if (std::shared_ptr<NotifyFile> f = old.lock()) files.push_back(f);
    }
  }
  for (const std::shared_ptr<NotifyFile>& f : files) f->Wake();
}

std::shared_ptr<NotifyFile> JournalImpl::ReaderNotify() {
  std::lock_guard<std::mutex> lock(reader_notify_mu_);
  if (!reader_notify_ || reader_notify_->Replaced()) {
    std::erase_if(replaced_notify_, [](const std::weak_ptr<NotifyFile>& f) {
      return f.expired();
    });
    if (reader_notify_ != nullptr) replaced_notify_.push_back(reader_notify_);
    reader_notify_ = NotifyFile::ForReader(env_->dir());
  }
  return reader_notify_;
}

}  // namespace memoir::internal

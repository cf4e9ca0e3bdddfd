// NotifyFile: the commit wake-up across processes. The process that owns a
// store keeps <store>/memoir.notify, one page shared by every process that
// maps it: the newest committed position, a futex word bumped by every
// commit, and a count of waiters. The writer makes the wake-up system call
// only when the count is not zero. A read-only process registers, reads
// the word, reads the position from LMDB, and sleeps on the word.
//
// The file is only a hint: positions are always read from LMDB, and every
// wait is bounded, so a missing, foreign or stale file (a crashed writer, a
// writer that recreated it, a process without write permission) costs
// latency, never correctness.
//
// Thread safety: Publish from the writer thread; the rest from any thread.
#ifndef MEMOIR_STORAGE_NOTIFY_FILE_H_
#define MEMOIR_STORAGE_NOTIFY_FILE_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace memoir::internal {

class NotifyFile {
 public:
  static constexpr char kName[] = "memoir.notify";

  // The writer's file, created or taken over; null when it cannot be made
  // (a read-only directory, say): commits then reach other processes only
  // through their polling.
  static std::unique_ptr<NotifyFile> ForWriter(const std::string& dir);
  // A reader's view of the file; null when it is missing or not a notify
  // file of this version.
  static std::unique_ptr<NotifyFile> ForReader(const std::string& dir);

  ~NotifyFile();
  NotifyFile(const NotifyFile&) = delete;
  NotifyFile& operator=(const NotifyFile&) = delete;

  // Writer: `position` is committed and visible.
  void Publish(uint64_t position);

  // Reader: whether the writer will wake this process (the mapping is
  // writable, so it can count itself as a waiter).
  bool can_register() const { return writable_; }
  void Register();
  void Unregister();
  uint32_t word() const;
  // Sleeps until the word differs from `seen`, a wake-up, or `timeout`.
  void Wait(uint32_t seen, std::chrono::nanoseconds timeout);
  // Reader with a writable mapping: bumps the word and wakes every waiter
  // (of every process), as Publish does without a new position.
  void Wake();
  // Whether <dir>/memoir.notify is no longer the file mapped here (deleted
  // or replaced by a new writer).
  bool Replaced() const;

 private:
  struct Page;
  NotifyFile(std::string path, int fd, Page* page, bool writable, dev_t dev,
             ino_t ino)
      : path_(std::move(path)),
        fd_(fd),
        page_(page),
        writable_(writable),
        dev_(dev),
        ino_(ino) {}

  std::string path_;
  int fd_;
  Page* page_;
  bool writable_;
  dev_t dev_;
  ino_t ino_;
};

}  // namespace memoir::internal

#endif  // MEMOIR_STORAGE_NOTIFY_FILE_H_

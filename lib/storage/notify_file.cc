// NotifyFile (notify_file.h) on a shared mapping and Linux futexes.
#include "storage/notify_file.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <ctime>

namespace memoir::internal {

// The shared page. Fields sit on separate cache lines; the layout is part
// of the store's format (version 1).
struct NotifyFile::Page {
  char magic[8];  // "MEMOIRNF"
  uint32_t version;
  uint32_t reserved;
  char pad0[48];
  std::atomic<uint64_t> position;
  char pad1[56];
  std::atomic<uint32_t> word;  // the futex
  char pad2[60];
  std::atomic<uint32_t> waiters;
};

namespace {

constexpr char kMagic[8] = {'M', 'E', 'M', 'O', 'I', 'R', 'N', 'F'};
constexpr uint32_t kVersion = 1;
constexpr size_t kFileBytes = 4096;
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
              std::atomic<uint32_t>::is_always_lock_free &&
              std::atomic<uint64_t>::is_always_lock_free);

uint32_t* Futex(std::atomic<uint32_t>& word) {
  return reinterpret_cast<uint32_t*>(&word);
}

}  // namespace

std::unique_ptr<NotifyFile> NotifyFile::ForWriter(const std::string& dir) {
  const std::string path = dir + "/" + kName;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return nullptr;
  struct stat st;
  if (fstat(fd, &st) != 0 || ftruncate(fd, kFileBytes) != 0) {
    ::close(fd);
    return nullptr;
  }
  void* map =
      mmap(nullptr, kFileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    ::close(fd);
    return nullptr;
  }
  auto* page = static_cast<Page*>(map);
  // Whatever a crashed writer or another program left: take it over.
  // Readers already waiting keep their registrations.
  std::memcpy(page->magic, kMagic, sizeof(kMagic));
  page->version = kVersion;
  return std::unique_ptr<NotifyFile>(
      new NotifyFile(path, fd, page, true, st.st_dev, st.st_ino));
}

std::unique_ptr<NotifyFile> NotifyFile::ForReader(const std::string& dir) {
  const std::string path = dir + "/" + kName;
  bool writable = true;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    writable = false;
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) return nullptr;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kFileBytes)) {
    ::close(fd);
    return nullptr;
  }
  void* map =
      mmap(nullptr, kFileBytes, writable ? PROT_READ | PROT_WRITE : PROT_READ,
           MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    ::close(fd);
    return nullptr;
  }
  auto* page = static_cast<Page*>(map);
  if (std::memcmp(page->magic, kMagic, sizeof(kMagic)) != 0 ||
      page->version != kVersion) {
    munmap(map, kFileBytes);
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<NotifyFile>(
      new NotifyFile(path, fd, page, writable, st.st_dev, st.st_ino));
}

NotifyFile::~NotifyFile() {
  munmap(page_, kFileBytes);
  ::close(fd_);
}

void NotifyFile::Publish(uint64_t position) {
  page_->position.store(position, std::memory_order_release);
  page_->word.fetch_add(1, std::memory_order_seq_cst);
  if (page_->waiters.load(std::memory_order_seq_cst) != 0) {
    syscall(SYS_futex, Futex(page_->word), FUTEX_WAKE, INT_MAX, nullptr,
            nullptr, 0);
  }
}

void NotifyFile::Wake() {
  if (!writable_) return;
  page_->word.fetch_add(1, std::memory_order_seq_cst);
  syscall(SYS_futex, Futex(page_->word), FUTEX_WAKE, INT_MAX, nullptr, nullptr,
          0);
}

void NotifyFile::Register() {
  if (writable_) page_->waiters.fetch_add(1, std::memory_order_seq_cst);
}

void NotifyFile::Unregister() {
  // A count left behind by a reader that died while waiting costs the
  // writer a wake-up call per commit, nothing more; never go below zero.
  if (!writable_) return;
  uint32_t n = page_->waiters.load(std::memory_order_relaxed);
  while (n != 0 && !page_->waiters.compare_exchange_weak(
                       n, n - 1, std::memory_order_seq_cst)) {
  }
}

uint32_t NotifyFile::word() const {
  return page_->word.load(std::memory_order_seq_cst);
}

void NotifyFile::Wait(uint32_t seen, std::chrono::nanoseconds timeout) {
  const int64_t ns = std::max<int64_t>(0, timeout.count());
  timespec wait{static_cast<time_t>(ns / 1'000'000'000),
                static_cast<long>(ns % 1'000'000'000)};
  syscall(SYS_futex, Futex(page_->word), FUTEX_WAIT, seen, &wait, nullptr, 0);
}

bool NotifyFile::Replaced() const {
  struct stat st;
  return stat(path_.c_str(), &st) != 0 || st.st_dev != dev_ ||
         st.st_ino != ino_;
}

}  // namespace memoir::internal

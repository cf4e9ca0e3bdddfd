// An interposer for the calls that put a store's bytes on disk: write,
// writev, pwrite(64), pwritev(64)(2), fdatasync, fsync and msync. Linked
// into an executable (not LD_PRELOADed, which an ASan binary refuses), its
// definitions take the place of libc's for every call through the PLT,
// LMDB's included; the real call is looked up with dlsym(RTLD_NEXT).
//
// Only calls on files inside one directory (the store) are counted and
// failed: the process's pipes and terminals are never touched. The plan
// says which op to count (or every op), which counted call to fail, the
// errno, and whether the failure happens once or persists until lifted.
// A failed call does not reach the real one: nothing of it is written.
//
// An executable links either this or sync_faults.cc: both define fsync and
// fdatasync.
//
// Thread safety: every function may be called from any thread.
#ifndef MEMOIR_TESTS_SUPPORT_IO_FAULTS_H_
#define MEMOIR_TESTS_SUPPORT_IO_FAULTS_H_

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memoir::test {

enum class IoOp : uint8_t {
  kWrite,
  kWritev,
  kPwrite,   // pwrite and pwrite64
  kPwritev,  // pwritev, pwritev64, pwritev2, pwritev64v2
  kFdatasync,
  kFsync,
  kMsync,
};
inline constexpr size_t kIoOpCount = 7;

std::string_view IoOpName(IoOp op);
std::optional<IoOp> ParseIoOp(std::string_view name);

struct IoFaultPlan {
  // Calls on files under this directory count (it need not exist yet).
  std::string dir;
  // Which calls count towards `nth`: one op, or every op in call order.
  bool any_op = false;
  IoOp op = IoOp::kPwrite;
  // The counted call that fails first (1-based); 0 fails nothing.
  uint64_t nth = 0;
  int err = EIO;  // or ENOSPC
  // Non-zero: only positional writes (pwrite, pwritev) at offsets below
  // this count towards `nth`, e.g. LMDB's meta pages (the first two).
  uint64_t below_offset = 0;
  // Once: only call `nth` fails. Persistent: every counted call from `nth`
  // on fails until LiftIoFaults.
  bool persistent = false;
};

// The plan described by the environment, as the parent sets it for a child:
//   MEMOIR_IO_FAULT_DIR    the directory (required when the others are set)
//   MEMOIR_IO_FAULT_OP write|writev|pwrite|pwritev|fdatasync|fsync|msync|any
//   MEMOIR_IO_FAULT_NTH    k >= 1
//   MEMOIR_IO_FAULT_ERRNO  EIO|ENOSPC
//   MEMOIR_IO_FAULT_MODE   once|persistent
//   MEMOIR_IO_FAULT_BELOW  an offset (optional, see below_offset)
// No variable set: a plan that counts calls in MEMOIR_IO_FAULT_DIR (if
// given) and fails none. Returns nullopt and fills `error` on a bad value.
std::optional<IoFaultPlan> IoFaultPlanFromEnv(std::string* error);

// Starts counting (and failing) per `plan`; counts restart from zero.
void ArmIoFaults(const IoFaultPlan& plan);
// Later calls succeed and are no longer counted: the fault is lifted
// (space freed, device back).
void LiftIoFaults();

struct IoFaultTally {
  // Calls on the directory's files per op, until lifted.
  std::array<uint64_t, kIoOpCount> calls{};
  uint64_t failed = 0;  // calls that were failed
  // The first failed call: its op, its number among the counted calls, and
  // the file it was on.
  bool injected = false;
  IoOp injected_op = IoOp::kWrite;
  uint64_t injected_at = 0;
  std::string injected_path;
  // Whether a failed call was a pwrite to one of LMDB's two meta pages
  // (the first two pages of data.mdb).
  bool failed_meta_write = false;
};
IoFaultTally IoFaultsSoFar();

}  // namespace memoir::test

#endif  // MEMOIR_TESTS_SUPPORT_IO_FAULTS_H_

// Clock: where memoir reads the time it stamps on events and snapshots.
//
// Inject a fake clock in tests through StoreOptions::clock. Implementations
// must be safe to call from any thread.
#ifndef MEMOIR_CLOCK_H_
#define MEMOIR_CLOCK_H_

#include <cstdint>
#include <memory>

#include "memoir/export.h"

namespace memoir {

class MEMOIR_EXPORT Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch (UTC).
  virtual int64_t NowNanos() = 0;

  // The wall clock (std::chrono::system_clock). Never null.
  static std::shared_ptr<Clock> System();
};

}  // namespace memoir

#endif  // MEMOIR_CLOCK_H_

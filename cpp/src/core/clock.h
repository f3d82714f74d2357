// Time as the submitters see it: the current instant and delayed work.
// Production uses the Scheduler (scheduler.h: steady_clock and one timer
// thread); unit tests pass a manual clock that moves only when told, so a
// linger or a task-time average is tested without sleeping.
//
// Invariants: Now() never goes backwards; RunAfter never runs `fn` inline in
// the caller (callers may hold locks that `fn` takes).
#ifndef POLYRAY_CORE_CLOCK_H_
#define POLYRAY_CORE_CLOCK_H_

#include <chrono>
#include <cstdint>
#include <functional>

namespace polyray::core {

/// A source of time and timers; see the file comment.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  /// The current instant.
  virtual TimePoint Now() const = 0;
  /// Runs `fn` once `delay_ms` have passed (0: as soon as possible).
  virtual void RunAfter(int64_t delay_ms, std::function<void()> fn) = 0;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_CLOCK_H_

// A single timer thread that runs delayed work for the core: lease linger
// expiry, GetObject timeouts, batched frees, retries of polls. It is the
// production Clock (clock.h) of the submitters.
//
// Invariants: callbacks run one at a time on the scheduler's thread, in
// due-time order; after Stop() nothing runs any more and later RunAfter calls
// are dropped. Callbacks must be short (they share one thread) and must not
// call Stop().
#ifndef POLYRAY_CORE_SCHEDULER_H_
#define POLYRAY_CORE_SCHEDULER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "core/clock.h"

namespace polyray::core {

/// Runs callbacks after a delay on one thread.
class Scheduler final : public Clock {
 public:
  Scheduler();
  ~Scheduler() override;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Runs `fn` on the scheduler thread after `delay_ms` (0: as soon as possible).
  void RunAfter(int64_t delay_ms, std::function<void()> fn) override;
  /// steady_clock's now.
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  /// Stops the thread; pending callbacks are dropped. Idempotent.
  void Stop();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> due_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_SCHEDULER_H_

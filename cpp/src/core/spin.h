// How long a worker thread polls for its next input before it sleeps (the
// C++ side of python/polyray/core/spin_selector.py and the Java worker's
// Spin.java).
//
// Why: on the sync path (one call, then wait for its result) every hop wakes
// a sleeping thread, and on a VM whose idle vCPUs halt a wake-up costs
// 50-70 µs, about as much as the rest of the hop. A thread that polls for a
// short while before it blocks catches the next call while it still runs.
// Who spins in a C++ worker: the push port's reader before its blocking read
// of the next frame (push_port.cc) and a task thread before it waits for the
// next task (TaskReceiver::Serve). Each poll step yields the core
// (SpinPause), so a spinner never keeps a thread that has work from running;
// a spinner spins only when it would otherwise block, never longer than
// SpinTime(), and then blocks as before, so an idle worker sleeps.
//
// POLYRAY_SPIN_US sets the spin in microseconds: unset or empty = 300,
// 0 = off; a negative or non-numeric value is an error naming the variable
// and the value (RunWorker reports it at start, exit code 2).
#ifndef POLYRAY_CORE_SPIN_H_
#define POLYRAY_CORE_SPIN_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace polyray::core {

/// The spin when POLYRAY_SPIN_US is unset or empty, in microseconds.
constexpr int64_t kDefaultSpinUs = 300;

/// The spin in microseconds for a value of POLYRAY_SPIN_US (nullptr: unset).
/// Throws std::invalid_argument, naming the variable and the value, for a
/// negative, non-numeric or out-of-range value.
int64_t ParseSpinUs(const char* raw);

/// This process's spin: POLYRAY_SPIN_US, parsed on the first call (which
/// throws as ParseSpinUs does; the value is kept once it parsed).
std::chrono::nanoseconds SpinTime();

/// One step of a spin: a CPU relax hint, then the core to any thread that
/// is ready to run on it (with 2 cores, maybe the thread a reply depends on).
inline void SpinPause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
  std::this_thread::yield();
}

/// Policy "spin_budget" (proto/runtime/runtime_spec.toml [spin], the same
/// in Python's spin_selector.py and Java's Policies): 0 when the cap is 0,
/// when the runnable threads other than the caller (`runnable` counts it)
/// fill the cores, or when at least kSpinMinSamples recent waits are known
/// and fewer than kSpinHitMinRatio of them ended within the cap; else the cap.
int64_t SpinBudgetUs(int64_t cap_us, int64_t runnable, int64_t cores, const std::vector<int64_t>& waits_us);

/// Runnable threads of the machine now (/proc/loadavg's fourth field); 0 if unknown.
int64_t ReadRunnable();

/// The policy's state in one process: the cap, the load (sampled at most
/// every kSpinLoadSampleMs), the last kSpinHistory waits and the spin token
/// (an fcntl lock on one of `cores` files in `folder`, shared with Python
/// and Java processes; threads of one process share it). The clock and the
/// load source are parameters for tests. POLYRAY_SPIN_ADAPTIVE=0 (read by
/// Process()) keeps the old fixed spin: no gate, no token.
class SpinGate {
 public:
  SpinGate(int64_t cap_us, std::function<int64_t()> runnable, int64_t cores, std::function<int64_t()> clock_ns,
           std::string folder, bool fixed = false);
  /// How long the wait starting now may poll (0: block at once).
  std::chrono::nanoseconds Budget();
  /// Takes the process's token; false when `cores` other processes hold one each.
  bool Acquire();
  void Release();
  /// A wait that ended after `wait` (spinning or blocked).
  void Record(std::chrono::nanoseconds wait);
  /// This process's gate (cap: SpinTime()).
  static SpinGate& Process();

 private:
  const int64_t cap_us_;
  const std::function<int64_t()> runnable_;
  const int64_t cores_;
  const std::function<int64_t()> clock_ns_;
  const std::string folder_;
  const bool fixed_;
  std::mutex mu_;
  std::vector<int64_t> waits_;
  size_t next_ = 0;
  int64_t load_ = 0;
  bool load_known_ = false;
  int64_t load_at_ = 0;
  int holders_ = 0;
  std::vector<int> fds_;
  bool opened_ = false;
  int held_ = -1;
};

/// For a caller that just found nothing to do: pauses and polls `ready()`
/// until it is true or `spin` has passed; whether it became true. Returns
/// false at once for a spin of 0.
template <typename Ready>
bool SpinUntil(std::chrono::nanoseconds spin, Ready&& ready) {
  if (spin.count() <= 0) return false;
  const auto end = std::chrono::steady_clock::now() + spin;
  while (true) {
    SpinPause();
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
  }
}

/// SpinUntil, only while it pays: at most `spin`, and only for what
/// SpinGate::Process() allows (none on a busy machine, after mostly long
/// waits, or without a spin token). Whether `ready()` became true.
template <typename Ready>
bool SpinWhilePays(std::chrono::nanoseconds spin, Ready&& ready) {
  if (spin.count() <= 0) return false;
  SpinGate& gate = SpinGate::Process();
  auto budget = gate.Budget();
  if (budget.count() <= 0) return false;
  if (budget < spin) spin = budget;
  if (!gate.Acquire()) return false;
  bool got = SpinUntil(spin, ready);
  gate.Release();
  return got;
}

}  // namespace polyray::core

#endif  // POLYRAY_CORE_SPIN_H_

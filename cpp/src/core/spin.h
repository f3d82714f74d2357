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

#include <chrono>
#include <cstdint>
#include <thread>

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

}  // namespace polyray::core

#endif  // POLYRAY_CORE_SPIN_H_

// Tasks for tests/chaos/test_task_failures_xlang.py: each run appends its pid
// to a file, then works a while (so the test can SIGKILL it while it runs).
#include <polyray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

// Appends this worker's pid to `pids`, sleeps `ms`, returns x * x.
int64_t SleepySquare(const std::string& pids, int64_t ms, int64_t x) {
  { std::ofstream(pids, std::ios::app) << getpid() << "\n"; }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return x * x;
}

POLYRAY_REMOTE(SleepySquare);

// A C++ actor for tests/api/test_cpp_concurrency.py (issue 19): naps, and the most
// calls that were inside Nap at once. Built by the test with `polyray cpp-flags`.
#include <polyray/api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

class Napper {
 public:
  static Napper* Create() { return new Napper(); }
  int64_t Nap(int64_t id, int64_t ms) {
    int now = ++in_flight_;
    int most = most_.load();
    while (now > most && !most_.compare_exchange_weak(most, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    --in_flight_;
    return id;
  }
  int64_t MostInFlight() { return most_.load(); }

 private:
  std::atomic<int> in_flight_{0};
  std::atomic<int> most_{0};
};

POLYRAY_REMOTE(Napper::Create, &Napper::Nap, &Napper::MostInFlight);

// C++ generators (polyray::Yield) for tests/api/test_cpp_generators.py: called
// from a Python driver and from the C++ driver generator_driver.cc.
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

namespace {
// Waits (bounded) until `path` exists.
bool WaitForFile(const std::string& path, int timeout_ms) {
  struct stat st;
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    if (::stat(path.c_str(), &st) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}
}  // namespace

// 0, 1, ..., n - 1.
void CountUp(polyray::Yield<int64_t>& yield, int64_t n) {
  for (int64_t i = 0; i < n; ++i) yield(i);
}

// "before", then (once the file `gate` exists) "after": the caller reads the
// first item while this still waits, so items cannot be sent at the end only.
void Gated(polyray::Yield<std::string>& yield, std::string gate) {
  yield("before");
  if (!WaitForFile(gate, 30000)) throw std::runtime_error("the gate " + gate + " never opened");
  yield("after");
}

// 0 .. n - 1, then an error.
void FailsAfter(polyray::Yield<int64_t>& yield, int64_t n) {
  for (int64_t i = 0; i < n; ++i) yield(i);
  throw std::runtime_error("boom after " + std::to_string(n) + " items");
}

// n items of `size` bytes (item i filled with i): large ones travel through the store.
void BigItems(polyray::Yield<std::vector<uint8_t>>& yield, int64_t n, int64_t size) {
  for (int64_t i = 0; i < n; ++i) yield(std::vector<uint8_t>(static_cast<size_t>(size), static_cast<uint8_t>(i)));
}

// For retries: BigItems' items, each attempt appending its pid to
// `marks`/attempts; the first pauses before item `at` (its pid in
// `marks`/waiting) until the test kills it (at most 30 s).
void Paced(polyray::Yield<std::vector<uint8_t>>& yield, int64_t n, int64_t at, std::string marks, int64_t size) {
  struct stat st;
  const bool first = ::stat((marks + "/attempts").c_str(), &st) != 0;
  std::ofstream(marks + "/attempts", std::ios::app) << ::getpid() << "\n";
  for (int64_t i = 0; i < n; ++i) {
    if (first && i == at) {
      std::ofstream(marks + "/waiting") << ::getpid();
      WaitForFile(marks + "/never", 30000);
    }
    yield(std::vector<uint8_t>(static_cast<size_t>(size), static_cast<uint8_t>(i)));
  }
}

// Not a generator: asking it to stream is an error.
int64_t Plain(int64_t x) { return x; }

class Streamer {
 public:
  explicit Streamer(int64_t base) : base_(base) {}
  static Streamer* Create(int64_t base) { return new Streamer(base); }
  // base, base + 1, ..., base + n - 1.
  void Range(polyray::Yield<int64_t>& yield, int64_t n) {
    for (int64_t i = 0; i < n; ++i) yield(base_ + i);
  }

 private:
  int64_t base_;
};

POLYRAY_REMOTE(CountUp, Gated, FailsAfter, BigItems, Paced, Plain, Streamer::Create, &Streamer::Range);

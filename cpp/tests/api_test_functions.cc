// User code for the api_*_test programs, built as the MODULE library
// testlibs/ok/libpolyray_api_testfns.so (loaded by polyray_cpp_worker) and
// compiled into api_e2e_test too (so the driver can call Task(Plus1)).
//
// Invariants: every callable here is registered once, below; the names are
// the ones the tests use ("Plus1", "Counter::Create", "Counter::Add", ...).
#include "api_test_functions.h"

#include <polyray/api.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <stdexcept>

int Plus1(int x) { return x + 1; }

std::string Greet(const std::string& name) { return "hello " + name; }

void Nothing() {}

int64_t Sum(std::vector<int64_t> xs) {
  int64_t total = 0;
  for (int64_t x : xs) total += x;
  return total;
}

int Fail(std::string message) { throw std::invalid_argument(message); }

int64_t AddOneInPython(int64_t x) {
  return *polyray::Get(polyray::Task(polyray::PyFunction<int64_t>{"operator", "add"}).Remote(x, 1));
}

int FailNested(std::string message) { return *polyray::Get(polyray::Task(Fail).Remote(message)); }

int Crash(int x) {
  std::raise(SIGSEGV);
  return x;
}

int CrashOnce(std::string marker) {
  if (!std::ifstream(marker).good()) {
    std::ofstream(marker) << "crashed once\n";
    std::raise(SIGSEGV);
  }
  return 1;
}

Counter* Counter::Create(int start) { return new Counter(start); }

Counter* Counter::CreateBroken(int start) {
  throw std::runtime_error("cannot create a counter at " + std::to_string(start));
}

int Counter::Add(int n) { return value_ += n; }

int Counter::Get() const { return value_; }

int Counter::Boom() { throw std::logic_error("boom at " + std::to_string(value_)); }

Other* Other::Create() { return new Other(); }

int Other::Seven() { return 7; }

Gate* Gate::Create(int parties) { return new Gate(parties); }

bool Gate::Arrive(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  ++arrived_;
  max_inside_ = std::max(max_inside_, ++inside_);
  cv_.notify_all();
  bool reached = cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return arrived_ >= parties_; });
  --inside_;
  return reached;
}

int Gate::MaxInside() const {
  std::lock_guard<std::mutex> lock(mu_);
  return max_inside_;
}

POLYRAY_REMOTE(Plus1, Greet, Nothing, Sum, Fail, AddOneInPython, FailNested, Crash, CrashOnce);
POLYRAY_REMOTE(Counter::Create, Counter::CreateBroken, &Counter::Add, &Counter::Get, &Counter::Boom);
POLYRAY_REMOTE(Other::Create, &Other::Seven);
POLYRAY_REMOTE(Gate::Create, &Gate::Arrive, &Gate::MaxInside);

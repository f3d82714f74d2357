// C++ callees of the multi-node tests (tests/cluster/test_cpp_nodes.py and
// cluster_driver.cc): functions and an actor that take and return large
// vectors (> 100 KiB, so they travel through the node stores and are pulled
// between nodes), and a task that reports its worker's pid after a pause
// (to see where a task ran, and to keep a node's CPUs busy). Built by the
// tests with `polyray cpp-flags` into a shared library.
//
// Invariants: every name registered here is unique to this library (it is
// loaded alone, but may share a code search path with xlang_funcs.cc).
#include <polyray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <numeric>
#include <thread>
#include <vector>

/// Sleeps `ms` milliseconds, then returns the worker's pid.
int64_t ClusterSleepPid(int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<int64_t>(getpid());
}

/// The worker's pid.
int64_t ClusterPid() { return static_cast<int64_t>(getpid()); }

/// Each element times `factor` (a large argument in, a large result out).
std::vector<double> ClusterScale(std::vector<double> v, double factor) {
  for (double& x : v) x *= factor;
  return v;
}

/// The sum of the elements.
double ClusterSum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

/// 0, 1, ..., n - 1 as doubles (8 n bytes, made on the worker's node).
std::vector<double> ClusterMake(int64_t n) {
  std::vector<double> out(static_cast<size_t>(n));
  std::iota(out.begin(), out.end(), 0.0);
  return out;
}

/// An actor that scales vectors by a fixed factor.
class Scaler {
 public:
  explicit Scaler(double factor) : factor_(factor) {}
  static Scaler* Create(double factor) { return new Scaler(factor); }
  std::vector<double> Scale(std::vector<double> v) { return ClusterScale(std::move(v), factor_); }
  int64_t Pid() { return static_cast<int64_t>(getpid()); }

 private:
  double factor_;
};

POLYRAY_REMOTE(ClusterSleepPid, ClusterPid, ClusterScale, ClusterSum, ClusterMake);
POLYRAY_REMOTE(Scaler::Create, &Scaler::Scale, &Scaler::Pid);

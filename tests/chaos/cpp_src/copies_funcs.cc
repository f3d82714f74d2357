// C++ callees of tests/chaos/test_lost_copies_xlang.py: a task that makes a
// 1 MB vector and appends a line to a marker file each time it runs (so the
// test counts its executions), and two consumers of that vector (a small and
// a large result). Built by the test with `polyray cpp-flags`.
//
// Invariants: every name registered here is unique to this library.
#include <polyray/api.h>

#include <cstdint>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

/// 0, 1, ..., n - 1 as doubles; appends "make" to `marker`.
std::vector<double> CopiesMake(int64_t n, std::string marker) {
  std::ofstream(marker, std::ios::app) << "make\n";
  std::vector<double> out(static_cast<size_t>(n));
  std::iota(out.begin(), out.end(), 0.0);
  return out;
}

/// The number of elements (a consumer that pulls the vector to its node).
int64_t CopiesLength(const std::vector<double>& v) { return static_cast<int64_t>(v.size()); }

/// The elements in reverse order (a large result: it lives in its node's store).
std::vector<double> CopiesReverse(std::vector<double> v) { return std::vector<double>(v.rbegin(), v.rend()); }

POLYRAY_REMOTE(CopiesMake, CopiesLength, CopiesReverse);

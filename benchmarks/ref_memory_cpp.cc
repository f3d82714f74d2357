// Memory per held ref in a C++ driver (issue 14, Deliver 6; the C++ twin of
// benchmarks/ref_memory.py): Puts `refs` small values (an int64 each) and
// keeps every ObjectRef in a vector; prints the growth of the process's RSS
// divided by the number of refs. What a held put ref costs: the ObjectRef,
// its record in the ReferenceCounter, its MemoryStore entry (the inline
// value) and the vector slot.
//
//   .venv/bin/python benchmarks/ref_memory.py --lang cpp [--refs 1000000]
//   (compiles this file with `polyray cpp-flags` and runs it), or by hand:
//   g++ -std=c++17 -O2 benchmarks/ref_memory_cpp.cc $(polyray cpp-flags) -o /tmp/ref_memory_cpp
//   /tmp/ref_memory_cpp 1000000
//
// Prints one line: "<n> put refs held: <s> s, RSS +<MiB> MiB, <B> B per ref (RSS)".
#include <polyray/api.h>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

namespace {

int64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0;
  int64_t resident = 0;
  f >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 1000000;
  polyray::Init();
  {
    std::vector<polyray::ObjectRef<int64_t>> warm;  // first-use allocations out of the measurement
    for (int64_t i = 0; i < 1000; ++i) warm.push_back(polyray::Put(i));
  }
  usleep(500 * 1000);
  const int64_t before = RssBytes();
  auto start = std::chrono::steady_clock::now();
  std::vector<polyray::ObjectRef<int64_t>> refs;
  refs.reserve(static_cast<size_t>(n));  // the slots are counted: 1 pointer-sized handle each at most
  for (int64_t i = 0; i < n; ++i) refs.push_back(polyray::Put(i));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t after = RssBytes();
  std::printf("%lld put refs held: %.1f s, RSS +%.0f MiB, %.0f B per ref (RSS)\n", static_cast<long long>(n), took,
              static_cast<double>(after - before) / (1 << 20), static_cast<double>(after - before) / n);
  std::fflush(stdout);
  refs.clear();
  polyray::Shutdown();
  return 0;
}

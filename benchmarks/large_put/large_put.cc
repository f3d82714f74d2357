// A C++ driver's large puts (benchmarks/large_puts.py --cpp): joins the
// cluster at <address>, puts a std::vector<uint8_t> of <bytes> twice (filled
// first, so the source never faults) and prints "puts s1 s2" (seconds per
// put), then gets the first back and checks its size and last byte.
//
//   large_put <address> <bytes>
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: large_put <address> <bytes>" << std::endl;
    return 2;
  }
  const size_t n = std::strtoull(argv[2], nullptr, 10);
  std::vector<uint8_t> value(n, 1);
  polyray::Config config;
  config.address = argv[1];
  polyray::Init(config);
  int rc = 0;
  try {
    using Clock = std::chrono::steady_clock;
    auto t0 = Clock::now();
    auto first = polyray::Put(value);
    auto t1 = Clock::now();
    auto second = polyray::Put(value);
    auto t2 = Clock::now();
    std::cout << "puts " << std::chrono::duration<double>(t1 - t0).count() << ' '
              << std::chrono::duration<double>(t2 - t1).count() << std::endl;
    auto back = polyray::Get(first);
    if (!back || back->size() != n || (*back)[n - 1] != 1) throw polyray::Error("wrong value back");
    polyray::Get(second);
  } catch (const std::exception& e) {
    std::cerr << "large_put: " << e.what() << std::endl;
    rc = 1;
  }
  polyray::Shutdown();
  return rc;
}

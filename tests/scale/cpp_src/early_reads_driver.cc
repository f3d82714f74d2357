// A C++ driver for tests/scale/test_early_reads_cpp_driver.py (issue 14, early
// reads): gets n values of 110 KB that a Python worker put (so they sit in
// this node's store) while the test holds that owner stopped (SIGSTOP).
//
//   early_reads_driver <n> <pid file> <code search path entry>...
//
// Prints "READY" once it holds the refs and waits for a line on stdin (the
// owner is stopped then). A Get reads them locally without the owner (local
// reads): prints "LOCAL n=<count> ok=<1|0> seconds=<get time>". Then, with
// POLYRAY_LOCAL_READS=0, a Get with a 1.5 s timeout must time out (the
// copies are read early but returned only on the owner's answer): prints
// "STOPPED timeout" (or "STOPPED returned", exit 4). Then prints "WAITING",
// gets them again with a 20 s timeout (the test resumes the owner) and prints
// "RESULT n=<count> ok=<1|0> seconds=<get time>". Anything else: exit 1.
#include <polyray/api.h>

#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace {

bool Check(const std::vector<std::shared_ptr<std::string>>& values, int64_t n) {
  bool ok = values.size() == static_cast<size_t>(n);
  for (size_t i = 0; ok && i < values.size(); i++) {
    std::string prefix = "x" + std::to_string(i) + ":";
    ok = values[i]->size() == prefix.size() + 110000 && values[i]->compare(0, prefix.size(), prefix) == 0;
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: early_reads_driver <n> <pid file> <code search path>...\n";
    return 2;
  }
  int64_t n = std::stoll(argv[1]);
  std::string pid_path = argv[2];
  polyray::Config config;
  for (int i = 3; i < argc; i++) config.code_search_path.push_back(argv[i]);
  try {
    polyray::Init(config);
    using Refs = std::vector<polyray::ObjectRef<std::string>>;
    auto refs = polyray::Get(polyray::Task(polyray::PyFunction<Refs>{"stored_mod", "put_big"}).Remote(n, pid_path),
                             60000);
    std::cout << "READY" << std::endl;
    std::string line;
    std::getline(std::cin, line);
    {
      // Local reads: registered borrows of a live owner, sealed here: read without the owner.
      auto started = std::chrono::steady_clock::now();
      auto values = polyray::Get(*refs, 5000);
      double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::cout << "LOCAL n=" << values.size() << " ok=" << (Check(values, n) ? 1 : 0) << " seconds=" << took
                << std::endl;
    }
    ::setenv("POLYRAY_LOCAL_READS", "0", 1);  // from here: early reads, the owner's answer decides
    try {
      polyray::Get(*refs, 1500);
      std::cout << "STOPPED returned" << std::endl;
      polyray::Shutdown();
      return 4;
    } catch (const polyray::GetTimeoutError&) {
      std::cout << "STOPPED timeout" << std::endl;
    }
    std::cout << "WAITING" << std::endl;
    auto started = std::chrono::steady_clock::now();
    auto values = polyray::Get(*refs, 20000);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << "RESULT n=" << values.size() << " ok=" << (Check(values, n) ? 1 : 0) << " seconds=" << took << std::endl;
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "early_reads_driver failed: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}

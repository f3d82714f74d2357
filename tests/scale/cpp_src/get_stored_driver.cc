// A C++ driver for tests/scale/test_get_stored_cpp_driver.py (issue 14): gets
// n values of 110 KB that a Python worker put (so they sit in this node's
// store) while the test holds that owner stopped (SIGSTOP).
//
//   get_stored_driver <n> <pid file> <code search path entry>...
//
// Prints "READY" once it holds the refs, waits for a line on stdin, gets the
// values with a 10 s timeout and prints "RESULT n=<count> ok=<1|0>", or
// "TIMEOUT" (exit 3). Anything else: exit 1.
#include <polyray/api.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: get_stored_driver <n> <pid file> <code search path>...\n";
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
                             120000);
    std::cout << "READY" << std::endl;
    std::string line;
    std::getline(std::cin, line);
    try {
      auto values = polyray::Get(*refs, 10000);
      bool ok = values.size() == static_cast<size_t>(n);
      for (size_t i = 0; ok && i < values.size(); i++) {
        std::string prefix = "x" + std::to_string(i) + ":";
        ok = values[i]->size() == prefix.size() + 110000 && values[i]->compare(0, prefix.size(), prefix) == 0;
      }
      std::cout << "RESULT n=" << values.size() << " ok=" << (ok ? 1 : 0) << std::endl;
    } catch (const polyray::GetTimeoutError& e) {
      std::cout << "TIMEOUT " << e.what() << std::endl;
      polyray::Shutdown();
      return 3;
    }
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "get_stored_driver failed: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}

// A C++ driver for tests/chaos/test_node_death_xlang.py: its task runs on a
// node that is then SIGKILLed.
//
//   node_death_driver <host:port> <pid file> <code search path entry>...
//
// Submits SleepySquare(<pid file>, 600000, 7) (tests/chaos/cpp_src/
// sleepy_funcs.cc: appends its worker's pid to the file, then sleeps 600 s)
// pinned to resource "b" with max_retries=0, prints READY and waits for a line
// on stdin (the test has SIGKILLed the node running it). Then Get: prints
// "DIED NodeDiedError <ms>" for a NodeDiedError, "OTHER <what> <ms>" for any
// other error, "VALUE <v>" for a value; finally "DONE".
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: node_death_driver <host:port> <pid file> <code search path>...\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  std::string pids = argv[2];
  for (int i = 3; i < argc; i++) config.code_search_path.push_back(argv[i]);
  try {
    polyray::Init(config);
    auto ref = polyray::Task(polyray::CppFunction<int64_t>{"SleepySquare"})
                   .SetResource("b", 1)
                   .SetMaxRetries(0)
                   .Remote(pids, int64_t{600000}, int64_t{7});
    std::cout << "READY" << std::endl;
    std::string line;
    std::getline(std::cin, line);
    auto t0 = std::chrono::steady_clock::now();
    auto ms = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    };
    try {
      auto v = polyray::Get(ref, 60000);
      std::cout << "VALUE " << *v << std::endl;
    } catch (const polyray::NodeDiedError& e) {
      std::cout << "DIED NodeDiedError " << ms() << std::endl;
      std::cerr << e.what() << std::endl;
    } catch (const std::exception& e) {
      std::cout << "OTHER " << typeid(e).name() << " " << ms() << std::endl;
      std::cerr << e.what() << std::endl;
    }
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "node_death_driver failed: " << e.what() << std::endl;
    return 1;
  }
  std::cout << "DONE" << std::endl;
  return 0;
}

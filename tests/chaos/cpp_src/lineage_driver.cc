// A C++ driver for tests/chaos/test_lineage_xlang.py: the owner of a task's
// return that is lost with its node.
//
//   lineage_driver <host:port> <max_retries> <get|arg> <code search path entry>...
//
// Submits ClusterMake(131072) (tests/xlang/cpp_src/cluster_funcs.cc: 1 MB of
// doubles) pinned to resource "b" with <max_retries>, waits until it is done
// without reading it, prints READY and waits for a line on stdin (the test
// has SIGKILLed the node holding the value and started another). Then Get:
// prints "VALUE <size> <first> <last> <ms>", or "LOST <reason> ObjectLostError
// <ms>" for an ObjectLostError; finally "DONE". With "arg", before the Get it
// passes the ref to ClusterSum (a C++ worker borrows the lost value and asks
// this owner with `lost`) and prints "ARG <sum> <ms>". Anything else: exit 1.
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: lineage_driver <host:port> <max_retries> <get|arg> <code search path>...\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  int max_retries = std::stoi(argv[2]);
  bool as_argument = std::string(argv[3]) == "arg";
  for (int i = 4; i < argc; i++) config.code_search_path.push_back(argv[i]);
  try {
    polyray::Init(config);
    auto ref = polyray::Task(polyray::CppFunction<std::vector<double>>{"ClusterMake"})
                   .SetResource("b", 1)
                   .SetMaxRetries(max_retries)
                   .Remote(int64_t{131072});
    auto ready = polyray::Wait(std::vector<polyray::ObjectRef<std::vector<double>>>{ref}, 1, 120000);
    if (ready.ready.size() != 1) throw std::runtime_error("the task did not finish");
    std::cout << "READY" << std::endl;
    std::string line;
    std::getline(std::cin, line);
    auto t0 = std::chrono::steady_clock::now();
    auto ms = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    };
    if (as_argument) {
      auto sum = polyray::Get(polyray::Task(polyray::CppFunction<double>{"ClusterSum"}).Remote(ref), 90000);
      std::cout << "ARG " << static_cast<int64_t>(*sum) << " " << ms() << std::endl;
    }
    try {
      auto v = polyray::Get(ref, 90000);
      std::cout << "VALUE " << v->size() << " " << v->front() << " " << v->back() << " " << ms() << std::endl;
    } catch (const polyray::ObjectLostError& e) {
      std::cout << "LOST " << (e.reason().empty() ? "NONE" : e.reason()) << " ObjectLostError " << ms() << std::endl;
      std::cerr << e.what() << std::endl;
    }
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "lineage_driver failed: " << e.what() << std::endl;
    return 1;
  }
  std::cout << "DONE" << std::endl;
  return 0;
}

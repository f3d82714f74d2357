// A C++ driver that finds its cluster (tests/cluster/test_driver_finds_cluster.py):
//   finder_driver <address>   ("" : Init's default rule, "auto": the record)
// calls Python's operator.add(1, 2) and prints one JSON line.
#include <polyray/api.h>

#include <cstdint>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  polyray::Config config;
  if (argc > 1) config.address = argv[1];
  polyray::InitInfo info = polyray::Init(config);
  int64_t v = *polyray::Get(polyray::Task(polyray::PyFunction<int64_t>{"operator", "add"}).Remote(int64_t{1},
                                                                                                   int64_t{2}),
                            90000);
  std::cout << "{\"address\": \"" << info.address << "\", \"job_id\": \"" << info.job_id << "\", \"value\": " << v
            << "}" << std::endl;
  polyray::Shutdown();
  return 0;
}

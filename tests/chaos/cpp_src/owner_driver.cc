// A C++ driver that owns two Python actors and a stored object, then waits
// on stdin to be SIGKILLed (tests/chaos/test_owner_death.py).
//   owner_driver <host:port> <code search path dir>
#include <polyray/api.h>

#include <cstdint>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: owner_driver <host:port> <code search path dir>\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  config.code_search_path.push_back(argv[2]);
  config.ray_namespace = "chaos";
  polyray::Init(config);
  auto a1 = polyray::Actor(polyray::PyActorClass{"od_mod", "Holder"}).Remote();
  auto a2 = polyray::Actor(polyray::PyActorClass{"od_mod", "Holder"}).Remote();
  auto ref = polyray::Put(std::string(8 << 20, 'x'));  // in the store: > the inline limit
  int64_t p1 = *polyray::Get(a1.Task(polyray::PyActorMethod<int64_t>{"pid"}).Remote(), 120000);
  int64_t p2 = *polyray::Get(a2.Task(polyray::PyActorMethod<int64_t>{"pid"}).Remote(), 120000);
  std::cout << "{\"pids\": [" << p1 << ", " << p2 << "]}" << std::endl;
  std::string line;
  std::getline(std::cin, line);  // stay up until SIGKILLed
  return 0;
}

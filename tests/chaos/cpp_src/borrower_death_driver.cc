// A C++ driver that owns a 1 MB object lent to a Python actor that keeps it
// (tests/chaos/test_borrower_death.py). It prints the actor's pid, waits for a
// line on stdin (the test SIGKILLs the actor meanwhile), drops its own ref,
// prints "dropped" and waits for stdin to close.
//   borrower_death_driver <host:port> <code search path dir>
#include <polyray/api.h>

#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: borrower_death_driver <host:port> <code search path dir>\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  config.code_search_path.push_back(argv[2]);
  config.ray_namespace = "chaos";
  polyray::Init(config);
  auto keeper = polyray::Actor(polyray::PyActorClass{"bd_mod", "Keeper"}).Remote();
  std::optional<polyray::ObjectRef<std::string>> ref = polyray::Put(std::string(1 << 20, 'x'));
  std::vector<polyray::ObjectRef<std::string>> box{*ref};
  int64_t kept = *polyray::Get(keeper.Task(polyray::PyActorMethod<int64_t>{"keep"}).Remote(box), 120000);
  box.clear();
  int64_t pid = *polyray::Get(keeper.Task(polyray::PyActorMethod<int64_t>{"pid"}).Remote(), 120000);
  std::cout << "{\"pid\": " << pid << ", \"kept\": " << kept << "}" << std::endl;
  std::string line;
  std::getline(std::cin, line);  // the test SIGKILLs the actor
  ref.reset();
  std::cout << "dropped" << std::endl;
  std::getline(std::cin, line);
  polyray::Shutdown();
  return 0;
}

// A C++ driver for tests/observability/test_state_objects.py:
//   hold_driver <GCS address> <bytes>
// joins the cluster, puts that many bytes (owned by this driver), prints
// "ready PID OBJECT_ID_HEX" and holds the ref until its stdin closes.
#include <polyray/api.h>

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  polyray::Config config;
  config.address = argv[1];
  polyray::Init(config);
  auto ref = polyray::Put(std::string(static_cast<size_t>(std::atoll(argv[2])), 'h'));
  std::cout << "ready " << getpid() << " " << ref.Id() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  polyray::Shutdown();
  return 0;
}

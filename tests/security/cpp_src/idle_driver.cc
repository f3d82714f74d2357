// A C++ driver that joins a cluster, says "ready" and waits on stdin; the
// security matrix calls its CoreWorker server meanwhile (tests/security).
//   idle_driver <host:port>
#include <polyray/api.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: idle_driver <host:port>\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  polyray::Init(config);
  std::cout << "ready" << std::endl;
  std::string line;
  std::getline(std::cin, line);
  polyray::Shutdown();
  return 0;
}

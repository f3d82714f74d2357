// A C++ driver for tests/chaos/test_owner_death_xlang.py: a borrower of an
// object owned by a Python actor that the test SIGKILLs.
//
//   borrow_driver <host:port> <code search path dir>
//
// Creates the Python actor bd_mod.Lender (max_restarts 0), gets from it a
// list holding one ObjectRef the actor put (so the actor owns it and this
// driver borrows it), prints "PID <actor pid>" and waits for a line on stdin
// (the test has SIGKILLed the actor). Then gets the borrowed ref: prints
// "GET <OwnerDiedError|ObjectLostError> <reason> <ms>" or "GET VALUE";
// finally "DONE". Anything else: exit code 1.
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: borrow_driver <host:port> <code search path dir>\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  config.code_search_path.push_back(argv[2]);
  try {
    polyray::Init(config);
    auto a = polyray::Actor(polyray::PyActorClass{"bd_mod", "Lender"}).Remote();
    using Refs = std::vector<polyray::ObjectRef<std::string>>;
    auto lent = polyray::Get(a.Task(polyray::PyActorMethod<Refs>{"lend"}).Remote(int64_t{1 << 20}), 120000);
    polyray::ObjectRef<std::string> inner = lent->at(0);
    int64_t pid = *polyray::Get(a.Task(polyray::PyActorMethod<int64_t>{"pid"}).Remote(), 120000);
    std::cout << "PID " << pid << " OID " << inner.Id() << std::endl;
    std::string line;
    std::getline(std::cin, line);
    auto t0 = std::chrono::steady_clock::now();
    auto ms = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    };
    try {
      polyray::Get(inner, 60000);
      std::cout << "GET VALUE" << std::endl;
    } catch (const polyray::OwnerDiedError& e) {
      std::cout << "GET OwnerDiedError " << e.reason() << " " << ms() << std::endl;
    } catch (const polyray::ObjectLostError& e) {
      std::cout << "GET ObjectLostError " << (e.reason().empty() ? "NONE" : e.reason()) << " " << ms() << std::endl;
      std::cerr << e.what() << std::endl;
    }
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "borrow_driver failed: " << e.what() << std::endl;
    return 1;
  }
  std::cout << "DONE" << std::endl;
  return 0;
}

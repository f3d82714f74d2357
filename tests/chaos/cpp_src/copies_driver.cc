// A C++ driver for tests/chaos/test_lost_copies_xlang.py.
//
//   copies_driver <host:port> <probe|borrow> <marker file> <code search path entry>...
//
// probe: owns x = CopiesMake(131072, marker) on resource "b"; CopiesLength(x)
// on resource "c" pulls a copy of x to node C (which tells this owner); owns
// y = CopiesReverse(x) on "b" (lives on B). Prints READY and waits for a line
// (the test has SIGKILLed B and started another "b" node). Then gets y (lost:
// its task is re-run; x survives on C, so x must not be) and x, printing
// "VALUE <y size> <y first> <y last> <x first> <x last> <ms>".
//
// borrow: creates the Python actor lc_mod.Lender on resource "h" (the head),
// which returns, inside a list, a ref to a task it submitted (on "b"): the
// actor owns it, this driver borrows it. Waits until it is ready, prints
// READY, waits for a line (B is gone with every copy), then gets it: the pull
// fails, it asks the owner with `lost`, the owner recomputes it. Prints
// "VALUE <size> <first byte> <last byte> <ms>".
//
// Either mode prints "LOST <reason> <ms>" for an ObjectLostError, then
// "DONE". Anything else: exit 1.
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: copies_driver <host:port> <probe|borrow> <marker> <code search path>...\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  std::string mode = argv[2];
  std::string marker = argv[3];
  for (int i = 4; i < argc; i++) config.code_search_path.push_back(argv[i]);
  const int64_t n = 131072;  // doubles: 1 MB
  try {
    polyray::Init(config);
    std::string line;
    auto t0 = std::chrono::steady_clock::now();
    auto ms = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    };
    try {
      if (mode == "probe") {
        auto x = polyray::Task(polyray::CppFunction<std::vector<double>>{"CopiesMake"})
                     .SetResource("b", 1)
                     .SetMaxRetries(3)
                     .Remote(n, marker);
        auto len = polyray::Get(
            polyray::Task(polyray::CppFunction<int64_t>{"CopiesLength"}).SetResource("c", 1).Remote(x), 120000);
        if (*len != n) throw std::runtime_error("CopiesLength returned " + std::to_string(*len));
        auto y = polyray::Task(polyray::CppFunction<std::vector<double>>{"CopiesReverse"})
                     .SetResource("b", 1)
                     .SetMaxRetries(3)
                     .Remote(x);
        auto ready = polyray::Wait(std::vector<polyray::ObjectRef<std::vector<double>>>{y}, 1, 120000);
        if (ready.ready.size() != 1) throw std::runtime_error("the task did not finish");
        std::cout << "READY" << std::endl;
        std::getline(std::cin, line);
        t0 = std::chrono::steady_clock::now();
        auto yv = polyray::Get(y, 90000);
        auto xv = polyray::Get(x, 90000);
        std::cout << "VALUE " << yv->size() << " " << yv->front() << " " << yv->back() << " " << xv->front() << " "
                  << xv->back() << " " << ms() << std::endl;
      } else {
        auto a = polyray::Actor(polyray::PyActorClass{"lc_mod", "Lender"}).SetResource("h", 1).Remote();
        using Bytes = std::vector<uint8_t>;
        using Refs = std::vector<polyray::ObjectRef<Bytes>>;
        auto lent = polyray::Get(a.Task(polyray::PyActorMethod<Refs>{"lend"}).Remote(n * 8, marker), 120000);
        polyray::ObjectRef<Bytes> inner = lent->at(0);
        auto ready = polyray::Wait(std::vector<polyray::ObjectRef<Bytes>>{inner}, 1, 120000);
        if (ready.ready.size() != 1) throw std::runtime_error("the borrowed object did not become ready");
        std::cout << "READY" << std::endl;
        std::getline(std::cin, line);
        t0 = std::chrono::steady_clock::now();
        auto v = polyray::Get(inner, 90000);
        std::cout << "VALUE " << v->size() << " " << static_cast<int>(v->front()) << " "
                  << static_cast<int>(v->back()) << " " << ms() << std::endl;
      }
    } catch (const polyray::ObjectLostError& e) {
      std::cout << "LOST " << (e.reason().empty() ? "NONE" : e.reason()) << " " << ms() << std::endl;
      std::cerr << e.what() << std::endl;
    }
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "copies_driver failed: " << e.what() << std::endl;
    return 1;
  }
  std::cout << "DONE" << std::endl;
  return 0;
}

// C++ callees of tests/api/test_cpp_scheduling.py (issue 19 Deliver 4): where
// a task or an actor ran, a task that fails, one that naps (and gives its pid).
#include <polyray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

std::string NodeOf() { return polyray::GetRuntimeContext().GetCurrentNodeId(); }

std::string NapNode(int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return polyray::GetRuntimeContext().GetCurrentNodeId();
}

int64_t Boom() { throw std::runtime_error("boom"); }

int64_t Nap(int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

int64_t NapPid(int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<int64_t>(getpid());
}

class Placed {
 public:
  static Placed* Create() { return new Placed(); }
  std::string Node() { return polyray::GetRuntimeContext().GetCurrentNodeId(); }
};

POLYRAY_REMOTE(NodeOf, NapNode, Boom, Nap, NapPid);
POLYRAY_REMOTE(Placed::Create, &Placed::Node);

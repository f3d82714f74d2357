// The runtime context of a C++ task and a C++ actor as a map, ExitActor() and
// the built-in methods (tests/api/test_runtime_context_xlang.py and
// tests/api/cpp_src/context_driver.cc).
#include <polyray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>

namespace {

std::map<std::string, std::string> Describe() {
  polyray::RuntimeContext c = polyray::GetRuntimeContext();
  std::map<std::string, std::string> m;
  m["job_id"] = c.GetCurrentJobId();
  m["node_id"] = c.GetCurrentNodeId();
  m["worker_id"] = c.GetCurrentWorkerId();
  m["task_id"] = c.GetCurrentTaskId().empty() ? "null" : c.GetCurrentTaskId();
  m["actor_id"] = c.GetCurrentActorId().empty() ? "null" : c.GetCurrentActorId();
  m["restarted"] = c.WasCurrentActorRestarted() ? "true" : "false";
  m["namespace"] = c.GetNamespace();
  m["is_driver"] = c.IsDriver() ? "true" : "false";
  std::string res;
  for (const auto& [name, amount] : c.GetAssignedResources()) {
    res += (res.empty() ? "" : ",") + name + "=" + std::to_string(amount);
  }
  m["resources"] = res;
  return m;
}

}  // namespace

std::map<std::string, std::string> TaskContext() { return Describe(); }

int64_t ExitOutsideActor() {
  polyray::ExitActor();
  return -1;
}

class CtxActor {
 public:
  static CtxActor* Create() { return new CtxActor(); }
  std::map<std::string, std::string> Context() { return Describe(); }
  int64_t Pid() { return static_cast<int64_t>(getpid()); }
  int64_t Slow(int64_t ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return ++calls_;
  }
  int64_t Leave() {
    polyray::ExitActor();
    return -1;
  }

 private:
  int64_t calls_ = 0;
};

POLYRAY_REMOTE(TaskContext, ExitOutsideActor);
POLYRAY_REMOTE(CtxActor::Create, &CtxActor::Context, &CtxActor::Pid, &CtxActor::Slow, &CtxActor::Leave);

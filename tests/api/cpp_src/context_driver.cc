// A C++ driver of GetRuntimeContext(), ExitActor() and the built-in actor
// methods (tests/api/test_runtime_context_xlang.py::test_cpp_driver_*):
//   context_driver <host:port> <libcontext_funcs.so>
// prints one JSON line: the driver's context, the actor's, and what its
// ExitActor() and __polyray_terminate__ calls gave.
#include <polyray/api.h>

#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

using Map = std::map<std::string, std::string>;

polyray::ActorHandleXlang NewActor() {
  return polyray::Actor(polyray::CppActorClass{"CtxActor::Create", "CtxActor"}).Remote();
}

template <typename T>
T Call(const polyray::ActorHandleXlang& a, const std::string& method) {
  return *polyray::Get(a.Task(polyray::CppActorMethod<T>{method}).Remote(), 60000);
}

bool Died(const polyray::ActorHandleXlang& a, const std::string& method) {
  try {
    Call<int64_t>(a, method);
  } catch (const polyray::ActorDiedError&) {
    return true;
  }
  return false;
}

std::string B(bool b) { return b ? "true" : "false"; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: context_driver <host:port> <libcontext_funcs.so>\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  config.code_search_path.push_back(argv[2]);
  polyray::InitInfo info = polyray::Init(config);
  polyray::RuntimeContext d = polyray::GetRuntimeContext();
  bool resources_refused = false;
  try {
    d.GetAssignedResources();
  } catch (const polyray::Error&) {
    resources_refused = true;
  }
  // ExitActor() in a method: the call and later ones fail, the process ends.
  polyray::ActorHandleXlang a = NewActor();
  bool ready = Call<bool>(a, "__polyray_ready__");
  Map actx = Call<Map>(a, "Context");
  int64_t exit_pid = Call<int64_t>(a, "Pid");
  bool leave_died = Died(a, "Leave");
  bool after_leave_died = Died(a, "Pid");
  // __polyray_terminate__: after the calls queued before it.
  polyray::ActorHandleXlang b = NewActor();
  int64_t term_pid = Call<int64_t>(b, "Pid");
  std::vector<polyray::ObjectRef<int64_t>> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(b.Task(polyray::CppActorMethod<int64_t>{"Slow"}).Remote(int64_t{200}));
  auto term = b.Task(polyray::CppActorMethod<bool>{"__polyray_terminate__"}).Remote();
  std::string slow;
  for (auto& r : queued) slow += (slow.empty() ? "" : ",") + std::to_string(*polyray::Get(r, 60000));
  bool term_died = false;
  try {
    polyray::Get(term, 60000);
  } catch (const polyray::ActorDiedError&) {
    term_died = true;
  }
  bool after_term_died = Died(b, "Pid");
  std::cout << "{\"job_id\": \"" << info.job_id << "\", \"ctx_job_id\": \"" << d.GetCurrentJobId()
            << "\", \"is_driver\": " << B(d.IsDriver()) << ", \"task_id\": \"" << d.GetCurrentTaskId()
            << "\", \"actor_id\": \"" << d.GetCurrentActorId() << "\", \"node_id\": \"" << d.GetCurrentNodeId()
            << "\", \"resources_refused\": " << B(resources_refused) << ", \"ready\": " << B(ready)
            << ", \"actor\": \"" << a.Id() << "\", \"actor_ctx_id\": \"" << actx["actor_id"]
            << "\", \"actor_ctx_job\": \"" << actx["job_id"] << "\", \"exit_pid\": " << exit_pid
            << ", \"leave_died\": " << B(leave_died) << ", \"after_leave_died\": " << B(after_leave_died)
            << ", \"term_pid\": " << term_pid << ", \"slow\": \"" << slow << "\", \"term_died\": " << B(term_died)
            << ", \"after_term_died\": " << B(after_term_died) << "}" << std::endl;
  polyray::Shutdown();
  return 0;
}

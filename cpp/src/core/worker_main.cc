// Worker mode: internal::RunWorker (as the Java worker's WorkerMain and
// python/polyray/worker.py). Reads the POLYRAY_* environment the raylet set
// (python/polyray/raylet/launchers.py LaunchContext.polyray_env), serves the
// CoreWorkerService and, unless POLYRAY_PUSH_PORT=0, the push port
// (push_port.h), registers with the raylet (language CPP, the startup token,
// both ports), installs its CoreWorker as the process's runtime (tasks may
// submit tasks) and runs pushed tasks on the calling thread until an Exit
// request, an exiting actor, or the death of the raylet (its parent) ends it.
//
// Exit codes: 0 normal end, 1 the raylet died, 2 incomplete or bad
// environment (e.g. a bad POLYRAY_SPIN_US, spin.h), 3 registration failed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/common.h"
#include "core/core_worker.h"
#include "core/ids.h"
#include "core/process_runtime.h"
#include "core/spin.h"
#include "core/store_io.h"
#include "core/task_receiver.h"
#include "polyray/exceptions.h"

namespace polyray::core {
namespace {

/// A required variable, or an exception naming it.
std::string Env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    throw std::invalid_argument(std::string("missing environment variable ") + name +
                                " (workers are started by a raylet)");
  }
  return v;
}

std::string HexEnv(const char* name) {
  std::string v = Env(name);
  try {
    return FromHex(v);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(std::string("environment variable ") + name + " is not hex: " + v);
  }
}

/// Exits the process once the raylet that started it (its parent) is gone:
/// a worker of a dead node must not linger.
void ExitWithRaylet() {
  pid_t parent = getppid();
  if (parent <= 1) return;
  std::thread([parent] {
    while (true) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (getppid() != parent) {
        std::fflush(stdout);
        std::fflush(stderr);
        _exit(1);
      }
    }
  }).detach();
}

}  // namespace
}  // namespace polyray::core

namespace polyray::internal {

int RunWorker(TaskExecutor executor) {
  using namespace polyray::core;
  CoreWorkerOptions o;
  std::string token;
  bool push_port = true;
  try {
    o.is_driver = false;
    o.raylet_address = Env("POLYRAY_RAYLET_ADDRESS");
    const char* gcs = std::getenv("POLYRAY_GCS_ADDRESS");
    o.gcs_address = gcs ? gcs : "";
    o.node_id = HexEnv("POLYRAY_NODE_ID");
    o.worker_id = HexEnv("POLYRAY_WORKER_ID");
    o.job_id = HexEnv("POLYRAY_JOB_ID");
    o.store_name = Env("POLYRAY_STORE_NAME");
    const char* token_env = std::getenv("POLYRAY_STARTUP_TOKEN");
    token = token_env ? token_env : "";
    const char* ip = std::getenv("POLYRAY_NODE_IP");
    o.host = ip && *ip ? ip : "127.0.0.1";
    SpinTime();  // a bad POLYRAY_SPIN_US fails the start here, with its name and value
    const char* push = std::getenv("POLYRAY_PUSH_PORT");
    push_port = !(push && std::string(push) == "0");
    if (const char* csp = std::getenv("POLYRAY_CODE_SEARCH_PATH")) {
      std::string cur;
      for (const char* p = csp;; ++p) {
        if (*p == ':' || *p == '\0') {
          if (!cur.empty()) o.code_search_path.push_back(cur);
          cur.clear();
          if (*p == '\0') break;
        } else {
          cur.push_back(*p);
        }
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "polyray C++ worker: %s\n", e.what());
    return 2;
  }
  ExitWithRaylet();
  auto core = std::make_shared<CoreWorker>(o);
  auto receiver = std::make_shared<TaskReceiver>(*core, std::move(executor));
  try {
    // Open the store first: a segment that does not map is a startup failure
    // with a reason, not an error on the first large result.
    core->store().Open();
    core->StartServer(receiver.get());
    if (push_port) core->StartPushPort(receiver.get());
    core->RegisterWithRaylet(token);
    InstallRuntime(core);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "polyray C++ worker: cannot start: %s\n", e.what());
    std::fflush(stderr);
    core->Shutdown();
    Retire(core);
    Retire(receiver);
    return 3;
  }
  int code = receiver->RunLoop();
  std::fflush(stdout);
  std::fflush(stderr);
  UninstallRuntime();
  core->Shutdown();
  Retire(receiver);
  return code;
}

}  // namespace polyray::internal

// The process's runtime of process_runtime.h, and internal::CurrentRuntime /
// HasRuntime.
#include "core/process_runtime.h"

#include <mutex>
#include <vector>

#include "core/core_worker.h"
#include "polyray/exceptions.h"

namespace polyray::core {
namespace {

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}
std::shared_ptr<CoreWorker>& Current() {
  static auto* current = new std::shared_ptr<CoreWorker>();  // never destroyed: exit order
  return *current;
}
std::vector<std::shared_ptr<void>>& Retired() {
  static auto* retired = new std::vector<std::shared_ptr<void>>();
  return *retired;
}

}  // namespace

void InstallRuntime(std::shared_ptr<CoreWorker> core) {
  std::lock_guard<std::mutex> lock(Mu());
  if (Current()) throw polyray::Error("polyray::Init() was called twice: this process already has a runtime");
  Current() = std::move(core);
}

std::shared_ptr<CoreWorker> UninstallRuntime() {
  std::lock_guard<std::mutex> lock(Mu());
  std::shared_ptr<CoreWorker> core = std::move(Current());
  Current().reset();
  if (core) Retired().push_back(core);
  return core;
}

void Retire(std::shared_ptr<void> object) {
  std::lock_guard<std::mutex> lock(Mu());
  Retired().push_back(std::move(object));
}

}  // namespace polyray::core

namespace polyray::internal {

Runtime& CurrentRuntime() {
  std::lock_guard<std::mutex> lock(core::Mu());
  if (!core::Current()) {
    throw polyray::Error("polyray::Init() has not been called (or Shutdown() was): there is no polyray runtime in "
                         "this process");
  }
  return *core::Current();
}

bool HasRuntime() {
  std::lock_guard<std::mutex> lock(core::Mu());
  return core::Current() != nullptr;
}

}  // namespace polyray::internal

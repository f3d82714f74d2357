// GetRuntimeContext() and ExitActor() (polyray/runtime_context.h), and the
// task context they read (task_context.h).
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "core/common.h"
#include "core/core_worker.h"
#include "core/ids.h"
#include "core/task_context.h"
#include "polyray/exceptions.h"
#include "polyray/internal/runtime.h"
#include "polyray/protocol/gcs.grpc.pb.h"
#include "polyray/runtime_context.h"

namespace polyray::core {
namespace {

thread_local const rpc::TaskSpec* tls_spec = nullptr;
thread_local bool tls_exit_requested = false;
std::atomic<const rpc::TaskSpec*> g_creation{nullptr};

std::mutex& NamespaceMu() {
  static std::mutex mu;
  return mu;
}
bool g_namespace_loaded = false;
std::string g_namespace;

/// A worker's job namespace, from the GCS job table once (as the Python worker reads it).
std::string WorkerNamespace(CoreWorker& core) {
  std::lock_guard<std::mutex> lock(NamespaceMu());
  if (g_namespace_loaded) return g_namespace;
  auto gcs = rpc::GcsService::NewStub(core.channels().Get(core.options().gcs_address));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  rpc::GetAllJobsRequest req;
  rpc::GetAllJobsReply reply;
  if (!gcs->GetAllJobs(&ctx, req, &reply).ok()) return "";  // ask again next time
  for (const auto& job : reply.jobs()) {
    if (job.job_id() == core.job_id()) g_namespace = job.namespace_();
  }
  g_namespace_loaded = true;
  return g_namespace;
}

CoreWorker& Core() {
  auto* core = dynamic_cast<CoreWorker*>(&internal::CurrentRuntime());
  if (core == nullptr) throw polyray::Error("this process's runtime is not a CoreWorker");
  return *core;
}

}  // namespace

ScopedTaskSpec::ScopedTaskSpec(const rpc::TaskSpec& spec) : previous_(tls_spec) {
  tls_spec = &spec;
  if (spec.type() == rpc::ACTOR_CREATION_TASK && g_creation.load() == nullptr) {
    g_creation.store(new rpc::TaskSpec(spec));  // kept for the life of the process
  }
}

ScopedTaskSpec::~ScopedTaskSpec() { tls_spec = previous_; }

const rpc::TaskSpec* CurrentTaskSpec() { return tls_spec; }
const rpc::TaskSpec* ActorCreationSpec() { return g_creation.load(); }

bool TakeActorExitRequest() {
  bool requested = tls_exit_requested;
  tls_exit_requested = false;
  return requested;
}

void RequestActorExit() { tls_exit_requested = true; }

}  // namespace polyray::core

namespace polyray {

std::map<std::string, double> RuntimeContext::GetAssignedResources() const {
  if (is_driver_) throw Error("GetAssignedResources() is only available in a worker (a task or an actor)");
  return resources_;
}

RuntimeContext GetRuntimeContext() {
  using namespace polyray::core;
  CoreWorker& core = Core();
  RuntimeContext ctx;
  ctx.is_driver_ = core.is_driver();
  ctx.job_id_ = Hex(core.job_id());
  ctx.node_id_ = Hex(core.node_id());
  ctx.worker_id_ = Hex(core.worker_id());
  const rpc::TaskSpec* creation = ActorCreationSpec();
  const rpc::TaskSpec* running = CurrentTaskSpec();
  if (!ctx.is_driver_) {
    ctx.task_id_ = running != nullptr ? Hex(running->task_id()) : Hex(core.CurrentTaskId());
  }
  if (creation != nullptr) {
    ctx.actor_id_ = Hex(creation->actor_id());
    ctx.restarted_ = creation->attempt() > 0;
  }
  const rpc::TaskSpec* assigned = creation != nullptr ? creation : running;
  if (assigned != nullptr) {
    for (const auto& [name, amount] : assigned->resources()) {
      if (amount != 0) ctx.resources_[name] = amount;  // as Python's: a zero amount is no resource
    }
  }
  ctx.namespace_ = ctx.is_driver_ || !core.options().ray_namespace.empty() ? core.options().ray_namespace
                                                                         : WorkerNamespace(core);
  return ctx;
}

void ExitActor() {
  const rpc::TaskSpec* running = core::CurrentTaskSpec();
  if (running == nullptr || core::ActorCreationSpec() == nullptr ||
      (running->type() != rpc::ACTOR_TASK && running->type() != rpc::ACTOR_CREATION_TASK)) {
    throw Error("ExitActor() can only be called inside an actor method");
  }
  core::RequestActorExit();
  throw core::ActorExitRequest();
}

}  // namespace polyray

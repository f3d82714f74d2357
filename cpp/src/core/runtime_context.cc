// GetRuntimeContext() and ExitActor() (polyray/runtime_context.h), and the
// task context they read (task_context.h).
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <unordered_set>

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
std::string g_default_lifetime;

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
    if (job.job_id() == core.job_id()) {
      g_namespace = job.namespace_();
      g_default_lifetime = job.default_actor_lifetime();
    }
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

namespace {
std::mutex g_cancel_mu;
std::unordered_set<std::string> g_cancel_requested;  // guarded by g_cancel_mu
}  // namespace

void MarkCancelRequested(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(g_cancel_mu);
  g_cancel_requested.insert(task_id);
}

bool CancelRequested(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(g_cancel_mu);
  return g_cancel_requested.count(task_id) > 0;
}

bool ClearCancelRequested(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(g_cancel_mu);
  return g_cancel_requested.erase(task_id) > 0;
}

std::string JobNamespace() {
  CoreWorker& core = Core();
  return core.is_driver() || !core.options().ray_namespace.empty() ? core.options().ray_namespace
                                                                   : WorkerNamespace(core);
}

std::string JobDefaultActorLifetime() {
  CoreWorker& core = Core();
  if (core.is_driver()) return core.options().default_actor_lifetime;
  WorkerNamespace(core);  // loads the job's row (namespace and default lifetime) once
  std::lock_guard<std::mutex> lock(NamespaceMu());
  return g_default_lifetime;
}

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
  ctx.namespace_ = JobNamespace();
  return ctx;
}

bool RuntimeContext::IsCanceled() const {
  if (is_driver_) throw Error("IsCanceled() is only available in a task or an actor method, not in a driver");
  const rpc::TaskSpec* running = core::CurrentTaskSpec();
  return running != nullptr && core::CancelRequested(running->task_id());
}

internal::ActorPtr RuntimeContext::CurrentActorEntry() const {
  using namespace polyray::core;
  const rpc::TaskSpec* creation = ActorCreationSpec();
  if (is_driver_ || creation == nullptr) throw Error("GetCurrentActor() is only available inside an actor");
  rpc::ActorHandle handle;
  handle.set_actor_id(creation->actor_id());
  handle.set_language(rpc::CPP);
  *handle.mutable_class_descriptor() = creation->function();
  *handle.mutable_owner() = creation->caller();
  handle.set_max_task_retries(creation->max_task_retries());
  handle.set_detached(true);  // weak, as Ray's current_actor: it does not keep the actor alive
  return Core().MakeActor(handle, internal::SerializeDeterministic(handle));
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

// What the current process is (Ray's ray::GetRuntimeContext()), and
// ExitActor() (Ray's ray::ExitActor()). Included by polyray/api.h.
//
//   auto ctx = polyray::GetRuntimeContext();
//   ctx.GetCurrentTaskId();   // hex, as Python's get_runtime_context().get_task_id()
//   polyray::ExitActor();     // inside a C++ actor method: the actor ends, no restart
//   ctx.IsCanceled();         // Ray's is_canceled(): polyray::Cancel / cancel() reached this task
//   ctx.GetCurrentActor<Counter>();  // Ray's current_actor: this actor's own (weak) handle
#ifndef POLYRAY_RUNTIME_CONTEXT_H_
#define POLYRAY_RUNTIME_CONTEXT_H_

#include <map>
#include <string>

#include "polyray/actor_handle.h"
#include "polyray/internal/runtime.h"

namespace polyray {

/// A snapshot of the calling thread's context, taken by GetRuntimeContext().
/// Ids are hex, equal to the ones Python's get_runtime_context() and the
/// state API (`polyray list tasks|actors`) show for the same things.
class RuntimeContext {
 public:
  /// The job id.
  const std::string& GetCurrentJobId() const { return job_id_; }
  /// The node this process runs on.
  const std::string& GetCurrentNodeId() const { return node_id_; }
  /// This process's worker id.
  const std::string& GetCurrentWorkerId() const { return worker_id_; }
  /// The running task (in an actor: the running method call); empty in a driver.
  const std::string& GetCurrentTaskId() const { return task_id_; }
  /// The actor this worker hosts; empty outside an actor.
  const std::string& GetCurrentActorId() const { return actor_id_; }
  /// Whether the actor this worker hosts was restarted (max_restarts); false outside one.
  bool WasCurrentActorRestarted() const { return restarted_; }
  /// The job's namespace.
  const std::string& GetNamespace() const { return namespace_; }
  /// Whether this process is a driver.
  bool IsDriver() const { return is_driver_; }
  /// The resources this worker was given: the running task's request
  /// ({"CPU": 1} by default), or in an actor what it was created with ({} for
  /// the default 0 CPUs). Throws polyray::Error in a driver.
  std::map<std::string, double> GetAssignedResources() const;
  /// Whether a cancel (from any language's caller, or forwarded by the task's
  /// owner) reached the running task (Ray's is_canceled()). Read live, so a
  /// long task can poll it and return early: a normal task cancelled while
  /// it runs ends with TaskCancelledError for its caller whatever it returns;
  /// an actor call keeps its result (as Ray's sync actors). C++ code is never
  /// interrupted. Throws polyray::Error in a driver.
  bool IsCanceled() const;
  /// This actor's own handle inside its methods (Ray's current_actor): a
  /// weak handle (it does not keep the actor alive, as Ray's); calls through
  /// it queue behind the running call (one thread) or run beside it
  /// (max_concurrency > 1). T is not checked. Throws polyray::Error outside
  /// an actor.
  template <typename T>
  ActorHandle<T> GetCurrentActor() const {
    return ActorHandle<T>(CurrentActorEntry());
  }

 private:
  friend RuntimeContext GetRuntimeContext();
  internal::ActorPtr CurrentActorEntry() const;
  std::string job_id_, node_id_, worker_id_, task_id_, actor_id_, namespace_;
  bool restarted_ = false;
  bool is_driver_ = true;
  std::map<std::string, double> resources_;
};

/// The context of the calling thread (a driver, a task or an actor method).
/// Throws polyray::Error without a runtime (no Init(), not in a worker).
RuntimeContext GetRuntimeContext();

/// Ends the actor whose method calls it, as Ray's ExitActor(): the GCS marks
/// it dead without a restart (even with max_restarts), this call and every
/// later one get ActorDiedError, and the worker process exits after the
/// reply. Does not return. Outside an actor method it throws polyray::Error.
[[noreturn]] void ExitActor();

}  // namespace polyray

#endif  // POLYRAY_RUNTIME_CONTEXT_H_

// The running task's spec per thread and the hosted actor's creation spec,
// for GetRuntimeContext() and ExitActor() (runtime_context.cc), set by the
// TaskReceiver around each task.
//
// Invariants: a ScopedTaskSpec lives exactly as long as the task's user code
// runs on its thread; the creation spec is set once (a worker hosts at most
// one actor) and never cleared.
#ifndef POLYRAY_CORE_TASK_CONTEXT_H_
#define POLYRAY_CORE_TASK_CONTEXT_H_

#include <exception>
#include <string>

#include "polyray/protocol/common.pb.h"

namespace polyray::core {

/// Marks the calling thread as running `spec` while it lives.
class ScopedTaskSpec {
 public:
  explicit ScopedTaskSpec(const rpc::TaskSpec& spec);
  ~ScopedTaskSpec();
  ScopedTaskSpec(const ScopedTaskSpec&) = delete;
  ScopedTaskSpec& operator=(const ScopedTaskSpec&) = delete;

 private:
  const rpc::TaskSpec* previous_;
};

/// The spec the calling thread runs, or null.
const rpc::TaskSpec* CurrentTaskSpec();
/// The hosted actor's creation spec (a copy), or null when none.
const rpc::TaskSpec* ActorCreationSpec();

/// What ExitActor() throws to unwind the actor's method; the TaskReceiver
/// sees TakeActorExitRequest() and ends the actor however the exception was
/// reported by the executor.
struct ActorExitRequest : std::exception {
  const char* what() const noexcept override { return "polyray::ExitActor() was called"; }
};
/// Whether ExitActor() was called on this thread since the last call (and clears it).
bool TakeActorExitRequest();
/// Records the request (ExitActor, __polyray_terminate__).
void RequestActorExit();

/// cancel() reached running task `task_id` (IsCanceled() sees it); thread-safe.
void MarkCancelRequested(const std::string& task_id);
/// Whether cancel() reached running task `task_id`.
bool CancelRequested(const std::string& task_id);
/// Forgets `task_id` (it ended); returns whether it had been cancelled.
bool ClearCancelRequested(const std::string& task_id);
/// The job's namespace: the driver's option, else (a worker) the GCS job table's, read once.
std::string JobNamespace();
/// The job's JobConfig default actor lifetime ("detached", "non_detached" or ""): the
/// driver's Config, else (a worker) the GCS job table's, read once with the namespace.
std::string JobDefaultActorLifetime();

}  // namespace polyray::core

#endif  // POLYRAY_CORE_TASK_CONTEXT_H_

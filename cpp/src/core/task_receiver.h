// The executing side of a C++ worker: the tasks pushed to it run one at a
// time on one thread (the worker's main thread, in RunLoop), in arrival
// order, so an actor sees each caller's calls in submission order and a
// leased worker runs one task at a time (DESIGN §2; Python and Java workers
// do the same). Arguments are resolved into ValueViews (inline envelopes as
// views of the received spec; by-reference arguments fetched from their
// owners, large ones viewed in the node's store without a copy), the
// TaskExecutor runs the call, and its outcome is encoded for the caller:
// inline when small, else sealed into the store under the return ObjectID
// and pinned for the caller.
//
// Invariants: every enqueued task gets exactly one result, whatever happens
// (a failure to resolve, run or encode becomes an ERROR value for each
// return); borrow registrations made while a task ran reach their owners
// before its result leaves; no thread is created per task.
#ifndef POLYRAY_CORE_TASK_RECEIVER_H_
#define POLYRAY_CORE_TASK_RECEIVER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "polyray/internal/runtime.h"
#include "polyray/protocol/core_worker.pb.h"

namespace polyray::core {

class CoreWorker;

/// Runs pushed tasks; see the file comment.
class TaskReceiver {
 public:
  using ReplyFn = std::function<void(rpc::TaskResult)>;

  TaskReceiver(CoreWorker& w, internal::TaskExecutor executor) : w_(w), executor_(std::move(executor)) {}

  /// Queues a task; `reply` is called once with its result, from the task thread.
  void Enqueue(std::shared_ptr<rpc::TaskSpec> spec, ReplyFn reply);
  /// Cancels a task not started yet (it ends with TASK_CANCELLED).
  bool Cancel(const std::string& task_id);
  /// Runs queued tasks on the calling thread until Stop(); returns the exit code.
  int RunLoop();
  /// Ends RunLoop after the current task (thread-safe).
  void Stop(int exit_code);

 private:
  struct Item {
    std::shared_ptr<rpc::TaskSpec> spec;
    ReplyFn reply;
  };
  rpc::TaskResult Execute(const std::shared_ptr<rpc::TaskSpec>& spec);
  rpc::TaskResult Returns(const rpc::TaskSpec& spec, internal::TaskOutcome& outcome);

  CoreWorker& w_;
  internal::TaskExecutor executor_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::unordered_set<std::string> cancelled_;
  bool stopped_ = false;
  int exit_code_ = 0;
};

/// An ERROR result for each return of `spec` (one for an actor creation).
rpc::TaskResult ErrorResult(const rpc::TaskSpec& spec, const std::string& record_bytes, bool application_error);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_TASK_RECEIVER_H_

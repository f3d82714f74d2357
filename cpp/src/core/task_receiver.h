// The executing side of a C++ worker: the tasks pushed to it run one at a
// time on one thread (the worker's main thread, in RunLoop), in arrival
// order, so an actor sees each caller's calls in submission order and a
// leased worker runs one task at a time (docs/architecture.md; Python and Java workers
// do the same). A threaded actor (created with max_concurrency n > 1, as
// Ray's threaded actors) runs up to n calls at once: once its creation task
// succeeds, n - 1 more threads run the same loop as the main thread, taking
// tasks from the one queue in arrival order (so one caller's calls still
// start in submission order) and running them concurrently; the actor's
// methods must then be thread-safe. A task thread that finds the queue
// empty polls it for SpinTime() (spin.h, POLYRAY_SPIN_US; one thread at a
// time) before it waits on the condition variable: in a loop of sync calls
// the next task comes meanwhile, and the thread is not woken from sleep.
//
// Concurrency groups (Ray's, as the Python worker): an actor created with
// TaskSpec.concurrency_groups {name: n} gets, per group, its own queue and n
// threads, started with the default group's; a call whose
// TaskSpec.concurrency_group names a group runs there (in arrival order within
// it), so a full group never holds up another or the default group; a call
// naming a group the actor does not declare fails with an error naming it. A
// call naming no group runs in the group its method was registered in
// (POLYRAY_REMOTE_IN_GROUP), checked against the actor's groups at creation.
// An actor call of __polyray_call__ runs the actor function its argument 0
// names (a registered `R F(Class&, P...)`) with the actor's instance.
//
// Arguments are resolved into ValueViews (inline envelopes as views of the
// received spec; by-reference arguments fetched from their owners, large
// ones viewed in the node's store without a copy), the TaskExecutor runs
// the call, and its outcome is encoded for the caller: inline when small,
// else sealed into the store under the return ObjectID and pinned for the
// caller.
//
// Invariants: every enqueued task gets exactly one result, whatever happens
// (a failure to resolve, run or encode becomes an ERROR value for each
// return); borrow registrations made while a task ran reach their owners
// before its result leaves; owned references inside a task's return values
// are counted as lent (until the caller registers as their borrower) before
// the references the task dropped are released (CoreWorker::
// ReleaseDeferredRefs), so `return polyray::Put(v);` hands the caller a live
// object; no thread is created per task (a threaded actor
// has its n threads for its lifetime); RunLoop returns only after every
// actor thread has ended, or ends the process when one is still inside a
// call kStopGraceMs after Stop.
#ifndef POLYRAY_CORE_TASK_RECEIVER_H_
#define POLYRAY_CORE_TASK_RECEIVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "polyray/internal/runtime.h"
#include "polyray/protocol/core_worker.pb.h"

namespace polyray::core {

class CoreWorker;

/// Runs pushed tasks; see the file comment.
class TaskReceiver {
 public:
  using ReplyFn = std::function<void(rpc::TaskResult)>;

  /// Throws std::invalid_argument for a bad POLYRAY_SPIN_US (spin.h).
  TaskReceiver(CoreWorker& w, internal::TaskExecutor executor);

  /// How long RunLoop waits, after Stop, for actor threads still inside a
  /// call before it ends the process with the exit code.
  static constexpr int64_t kStopGraceMs = 10'000;

  TaskReceiver(const TaskReceiver&) = delete;
  TaskReceiver& operator=(const TaskReceiver&) = delete;
  ~TaskReceiver();

  /// Queues a task; `reply` is called once with its result, from the task thread.
  void Enqueue(std::shared_ptr<rpc::TaskSpec> spec, ReplyFn reply);
  /// Cancels a task (Ray's cancel, as the Python worker): one queued, or not
  /// arrived yet, never runs (it ends with TASK_CANCELLED); a running one is
  /// not interrupted (C++ code cannot be safely): it sees IsCanceled(), and a
  /// normal task's result becomes TASK_CANCELLED when it returns (an actor
  /// call's is kept, as Ray's sync actors); `force` on a running normal task
  /// ends the worker process at once (its owner fails it with TASK_CANCELLED).
  bool Cancel(const std::string& task_id, bool force = false);
  /// Runs queued tasks on the calling thread (and, for a threaded actor, on
  /// its extra threads) until Stop(); returns the exit code once the extra
  /// threads have ended.
  int RunLoop();
  /// Ends RunLoop after the current task(s) (thread-safe).
  void Stop(int exit_code);
  /// How many threads run tasks: 1, or an actor's max_concurrency once it is created.
  int concurrency() const;

 private:
  struct Item {
    std::shared_ptr<rpc::TaskSpec> spec;
    ReplyFn reply;
  };
  /// One concurrency group's queue (its threads run ServeGroup).
  struct Group {
    std::deque<Item> queue;  // guarded by mu_
    std::condition_variable cv;
  };
  /// Takes tasks from the queue and runs them until Stop(); every task
  /// thread (the main one and an actor's extra ones) runs this.
  void Serve();
  /// Takes tasks from group `g`'s queue and runs them until Stop().
  void ServeGroup(Group& g);
  /// Runs one task taken from a queue and replies (every serving thread).
  void RunItem(Item& item, bool cancelled);
  /// Starts each group of a created actor's spec with its threads (once).
  void StartGroups(const rpc::TaskSpec& creation);
  /// Starts `n` more threads running Serve() (once, for a threaded actor).
  void StartActorThreads(int n);
  /// Waits up to kStopGraceMs for the extra threads and joins them; false
  /// when one is still running a task.
  bool JoinActorThreads();
  /// Sets work_ from stopped_ and queue_. Caller holds mu_.
  void UpdateWorkLocked() { work_.store(stopped_ || !queue_.empty(), std::memory_order_release); }
  /// Runs one task; a generator task's items leave through `reply` as it yields them.
  rpc::TaskResult Execute(const std::shared_ptr<rpc::TaskSpec>& spec, const ReplyFn& reply);
  rpc::TaskResult Returns(const rpc::TaskSpec& spec, internal::TaskOutcome& outcome);
  /// Fills `r` with return `oid` of `spec` (inline, or sealed in the store and
  /// pinned for the caller; refs inside lent); a serialized ErrorRecord on failure.
  std::string EncodeReturn(const rpc::TaskSpec& spec, const std::string& oid, internal::Encoded& enc,
                           rpc::ReturnObject* r);
  /// The sink of a streaming generator task's items (TaskInvocation::emit_item);
  /// throws TaskFailure for "dynamic", which C++ callees do not produce.
  internal::ItemSink ItemSender(const rpc::TaskSpec& spec, const ReplyFn& reply);
  /// An intended exit of the hosted actor (ExitActor(), __polyray_terminate__).
  rpc::TaskResult ActorExit(const rpc::TaskSpec& spec, const std::string& why);
  /// At an actor's creation: takes the groups its class's methods declare
  /// (POLYRAY_REMOTE_IN_GROUP) into method_groups_; the error message when
  /// one is not a group of the creation's concurrency_groups, else "".
  std::string AdoptMethodGroups(const rpc::TaskSpec& creation);

  CoreWorker& w_;
  internal::TaskExecutor executor_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;                 // guarded by mu_
  std::unordered_set<std::string> cancelled_;  // guarded by mu_
  std::unordered_map<std::string, rpc::TaskType> running_;  // task id -> type; guarded by mu_
  std::unordered_map<std::string, std::unique_ptr<Group>> groups_;  // set once, before the creation's reply
  /// Registered method name -> the group its calls run in when they name none (set at creation; mu_).
  std::unordered_map<std::string, std::string> method_groups_;
  bool stopped_ = false;                   // guarded by mu_
  int exit_code_ = 0;                      // guarded by mu_
  std::vector<std::thread> actor_threads_;  // started and joined by the main thread only
  int concurrency_ = 1;                    // guarded by mu_
  int serving_extra_ = 0;                  // actor threads not yet out of Serve(); guarded by mu_
  std::condition_variable extra_done_cv_;
  const std::chrono::nanoseconds spin_;    // how long an idle task thread polls before it waits
  // stopped_ || !queue_.empty(), as of the last change under mu_: what a
  // spinning task thread polls without taking mu_ (written under mu_ only).
  std::atomic<bool> work_{false};
  std::atomic<bool> spinning_{false};      // a task thread is spinning
};

/// An ERROR result for each return of `spec` (one for an actor creation).
rpc::TaskResult ErrorResult(const rpc::TaskSpec& spec, const std::string& record_bytes, bool application_error);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_TASK_RECEIVER_H_

// Submits actor method calls (docs/protocol.md §7.2; as the Java and Python
// runtimes do): one ordered PushTasks stream per actor (its push port when
// it offers one, else gRPC: task_stream.h), opened once the GCS
// reports the actor ALIVE (GetActorInfo with wait_for_change, repeated while
// it starts). Calls made before that, or while the actor restarts, wait in
// order and spend no retry. When a stream breaks, the actor's new state is
// asked of the GCS and each call in flight is decided by the spec's policy
// "actor_call" (submit_policy.h): resubmitted to the next incarnation
// (attempt + 1, in sequence order, ahead of the waiting calls) while its
// max_task_retries allows (-1 forever), else failed with ACTOR_DIED. Once
// the actor is DEAD, every pending and later call fails with ACTOR_DIED
// carrying the death cause and its reason.
//
// What it meets is passed in (Deps): the GCS through an ActorInfoClient, the
// actor's worker through a TaskStreamOpener, the task's owner through a
// TaskFinisher, timers through a Clock. CoreWorker passes the real ones; the
// unit tests (tests/core_actor_task_submitter_test.cc) pass fakes.
//
// Invariants: calls are handed to the stream under the submitter's mutex,
// so they leave in sequence order; completions (which wake user threads) run
// after the mutex is released; the arguments of an actor's creation task are
// held until it is ALIVE or DEAD.
//
// Argument resolution (issue 17, as Ray's caller-side dependency resolution
// and the Python/Java submitters): with a resolver installed, a call whose
// top-level ref arguments (owned here or borrowed) are not ready is held in
// the caller until they are (value or error), so it never holds up other
// callers' calls in the actor's stream; this caller's later calls to the same
// actor wait behind it (submission order kept). Waiting blocks no thread: the
// resolver calls back when the last argument is known. An argument's error
// reaches the callee as before and becomes the call's error there.
#ifndef POLYRAY_CORE_ACTOR_TASK_SUBMITTER_H_
#define POLYRAY_CORE_ACTOR_TASK_SUBMITTER_H_

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/pending_task.h"
#include "polyray/protocol/core_worker.pb.h"
#include "polyray/protocol/gcs.pb.h"

namespace grpc {
class Status;
}

namespace polyray::core {

class ActorInfoClient;
class TaskFinisher;
class TaskStream;
class TaskStreamOpener;

/// Actor-call submission; see the file comment.
class ActorTaskSubmitter {
 public:
  /// What the submitter meets; every reference outlives the submitter.
  struct Deps {
    ActorInfoClient& gcs;
    TaskStreamOpener& streams;
    TaskFinisher& finisher;
    Clock& clock;
    /// Whether the process is shutting down (no more GCS calls then).
    std::function<bool()> shutting_down;
  };

  explicit ActorTaskSubmitter(Deps deps) : d_(std::move(deps)) {}

  /// Follows an actor this process created: its creation arguments live
  /// until it is up or dead.
  void WatchCreation(const std::string& actor_id, std::vector<std::string> arg_ids);
  /// Queues one call; calls must arrive in sequence order.
  void Submit(PendingTaskPtr task);
  /// Half-closes every actor stream (shutdown).
  void Close();
  /// Whether `task_id` is a call of this caller not finished yet.
  bool Knows(const std::string& task_id);
  /// What Cancel found (Ray's cancel of an actor call).
  enum class CancelFound { kUnknown, kDropped, kSent };
  /// Cancels a call of this caller: one not sent yet (waiting for its
  /// arguments or for the actor) fails with TASK_CANCELLED now (kDropped);
  /// for one sent, `actor` is set to where to send CancelTask (kSent).
  /// kUnknown: finished, or never made here.
  CancelFound Cancel(const std::string& task_id, rpc::Address* actor);
  /// `resolve(spec, ready)`: whether the call must wait for its ref
  /// arguments; if so it calls `ready` once (any thread, never under the
  /// submitter's lock) when every one is known. Install before the first call.
  using ArgResolver = std::function<bool(const rpc::TaskSpec&, std::function<void()>)>;
  void SetArgResolver(ArgResolver resolve) { resolve_ = std::move(resolve); }

 private:
  struct ActorQueue {
    std::string actor_id;
    rpc::ActorState state = rpc::PENDING_CREATION;
    rpc::Address address;
    std::optional<rpc::ErrorRecord> death;
    std::deque<PendingTaskPtr> pending;
    std::unordered_map<std::string, PendingTaskPtr> inflight;
    std::shared_ptr<TaskStream> stream;  // task_stream.h: gRPC or the push port
    int generation = 0;
    bool watching = false;
    /// From a stream break until its calls in flight are requeued: only that path connects.
    bool recovering = false;
    std::vector<std::vector<std::string>> creation_args;
    /// Calls held in submission order until theirs and every earlier call's arguments are ready.
    std::deque<PendingTaskPtr> unresolved;
    /// Task ids among `unresolved` whose arguments are not ready yet.
    std::unordered_set<std::string> waiting;
  };
  using QueuePtr = std::shared_ptr<ActorQueue>;
  using Actions = std::vector<std::function<void()>>;

  QueuePtr QueueOf(const std::string& actor_id);
  rpc::ErrorRecord Died(const ActorQueue& aq, const rpc::TaskSpec& spec) const;
  void Watch(const QueuePtr& aq, Actions& actions);
  void WatchOnce(const QueuePtr& aq, rpc::ActorState known);
  void OnWatchReply(const QueuePtr& aq, rpc::ActorState known, const grpc::Status& st, rpc::GetActorInfoReply& reply);
  void Alive(const QueuePtr& aq, const rpc::Address& address, Actions& actions);
  void OpenStream(const QueuePtr& aq);
  void Push(const QueuePtr& aq, const PendingTaskPtr& task);
  /// A call whose arguments are ready enters the actor's queue (under mu_).
  void Enter(const QueuePtr& aq, const PendingTaskPtr& task, Actions& actions);
  void ArgsReady(const QueuePtr& aq, const std::string& task_id);
  void OnReply(const QueuePtr& aq, rpc::PushTasksReply& reply);
  void Broken(const QueuePtr& aq, int generation);
  void FinalState(const QueuePtr& aq, rpc::Address was, std::vector<PendingTaskPtr> inflight, int attempt);
  void MarkDead(const QueuePtr& aq, std::optional<rpc::ErrorRecord> cause, std::vector<PendingTaskPtr> extra,
                Actions& actions);
  void ReleaseCreationArgs(ActorQueue& aq, Actions& actions);
  void Fail(const PendingTaskPtr& task, const rpc::ErrorRecord& record, Actions& actions);
  bool ShuttingDown() const { return d_.shutting_down && d_.shutting_down(); }
  static void Run(Actions& actions);

  Deps d_;
  std::mutex mu_;
  std::unordered_map<std::string, QueuePtr> actors_;
  bool closed_ = false;
  ArgResolver resolve_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_ACTOR_TASK_SUBMITTER_H_

// Submits normal tasks (docs/protocol.md §7.1, §7.2; as the Java and Python
// runtimes do): one queue per scheduling class, worker leases from the local
// raylet (or the raylet it spills the request to), one PushTasks stream per
// leased worker (the worker's push port when it offers one, else gRPC:
// task_stream.h).
//
// A lease serves the queued tasks of its class until the queue is empty,
// then lingers spec kLeaseLingerMs before it is returned, so a driver
// submitting one task at a time does not pay two raylet round trips per
// task. Pipelining follows the runtime spec (submit_policy.h): a lease keeps
// a moving average of its task time, and while that is short and the queue
// is long it takes up to kPipeliningMaxInflightFast tasks at once (sent
// several per message), else one. When a worker's stream breaks, its tasks
// are retried (up to max_retries, -1: forever) or fail with WORKER_CRASHED.
//
// Who is charged (docs/fault-tolerance.md, "Who is charged"; as the Python
// submitter): a lease request remembers the task it was made for (the head
// of the queue) and that task's attempt. A WORKER_CRASHED lease reply (the
// worker died before registering) costs one attempt only to that task, and
// only while it still waits in the queue at that attempt: the requests in
// flight for one head task charge it once, a task already pushed is not
// charged. A broken stream charges only the oldest task in flight (the one
// the worker was running: it runs its tasks in order and answers each at
// once); the tasks pipelined behind it go back to the front of the queue at
// their attempt, at most kSpareLimit times each.
//
// The node watch (as the Python and Java submitters): while leases are held
// on other nodes, the GCS's node table is read every spec
// kLeaseNodeWatchMs; a lease on a node declared dead ends at once (its
// stream is closed), its tasks retried or failed with NODE_DIED carrying the
// GCS's death reason, though the stream never broke (a machine that vanished
// sends no FIN). A task on another node whose stream broke and that has no
// retries left fails with NODE_DIED when that node's raylet does not answer
// within kLeaseNodeProbeMs either, else WORKER_CRASHED.
//
// Spill-over (docs/protocol.md §5, as the Java NormalTaskSubmitter): a lease
// reply with `retry_at` sends the request to that node's raylet with
// `grant_or_reject` set (it grants or rejects, never spills again); the
// lease is returned to the raylet that granted it. When the raylet a request
// was spilled to is unreachable, the local raylet is asked again after
// spec kLeaseSpillRetryMs (its view drops the node once the GCS declares it
// dead).
//
// What it meets is passed in (Deps): the raylets through a LeaseClient,
// workers through a TaskStreamOpener, the task's owner through a
// TaskFinisher, time through a Clock. CoreWorker passes the real ones; the
// unit tests (tests/core_normal_task_submitter_test.cc) pass fakes.
//
// Invariants: one mutex guards the queues and leases; raylet calls, stream
// sends and task completions (which wake user threads) run after it is
// released; a task is in exactly one queue or in-flight table until it
// completes; at most LeaseRequestsToStart (min(queue length, 16)) lease
// requests per class are outstanding (a request that follows retry_at still
// counts as the one request it continues); a lease is returned to the raylet
// that granted it, exactly once.
#ifndef POLYRAY_CORE_NORMAL_TASK_SUBMITTER_H_
#define POLYRAY_CORE_NORMAL_TASK_SUBMITTER_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/pending_task.h"
#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/core_worker.pb.h"
#include "polyray/protocol/gcs.pb.h"
#include "polyray/protocol/raylet.pb.h"
#include "polyray/runtime_spec.h"

namespace grpc {
class Status;
}

namespace polyray::core {

class LeaseClient;
class NodeWatchClient;
class TaskFinisher;
class TaskStream;
class TaskStreamOpener;

/// Normal-task submission; see the file comment.
class NormalTaskSubmitter {
 public:
  /// What the submitter meets; every reference outlives the submitter.
  struct Deps {
    LeaseClient& leases;
    TaskStreamOpener& streams;
    TaskFinisher& finisher;
    Clock& clock;
    /// "host:port" of this node's raylet, asked first for every lease.
    std::string local_raylet;
    /// Whether the process is shutting down (no retries then).
    std::function<bool()> shutting_down;
    /// The GCS's node table and raylet probes (null: no node watch, no probe).
    std::shared_ptr<NodeWatchClient> nodes{};
    /// This process's node id (leases on it are not watched).
    std::string local_node{};
  };

  /// A task pipelined behind the one a dead worker was running goes back to
  /// the queue without spending an attempt at most this often.
  static constexpr int kSpareLimit = 3;

  explicit NormalTaskSubmitter(Deps deps) : d_(std::move(deps)) {}

  /// Queues a task and gets it running.
  void Submit(PendingTaskPtr task);
  /// Returns every lease and closes every stream (shutdown, bounded).
  void Close();

  /// What Cancel found (Ray's cancel; also a borrower's cancel forwarded to this owner).
  enum class CancelFound { kUnknown, kDropped, kRunning };
  /// Cancels a task this process submitted: a queued one is taken out and
  /// fails with TASK_CANCELLED now (kDropped); one on a worker is marked (no
  /// retry; its worker's loss fails it with TASK_CANCELLED) and `*worker` is
  /// where to send CancelTask (kRunning); kUnknown: finished, or not submitted here.
  CancelFound Cancel(const std::string& task_id, rpc::Address* worker);
  /// The unfinished tasks submitted by task `parent_task_id` (Ray's recursive cancel).
  std::vector<std::string> ChildrenOf(const std::string& parent_task_id);

 private:
  struct Lease {
    std::string lease_id;
    std::string worker_id;
    rpc::Address address;
    std::string key;
    /// "host:port" of the raylet that granted the lease (another node's
    /// after a spill-over): the lease goes back there.
    std::string raylet;
    std::unordered_map<std::string, PendingTaskPtr> inflight;  // by task id
    /// Task ids in flight in the order they were pushed (oldest first).
    std::deque<std::string> order;
    std::shared_ptr<TaskStream> stream;  // task_stream.h: gRPC or the push port
    bool dead = false;
    /// Moving average of a task's time on this worker (policy
    /// task_time_average); unknown until the first result.
    double avg_task_us = static_cast<double>(spec::kPipeliningUnknownAvgUs);
    /// When the last result came (a pipelined task's time is the gap since).
    Clock::TimePoint last_result{};
    uint64_t linger_gen = 0;
    bool lingering = false;
    /// Set when the GCS declared the worker's node dead: why.
    std::string node_died;
    bool node_dead = false;
    /// The grant's proof (lease_proof.h), shown first on the stream.
    std::optional<rpc::LeaseProof> proof;
    /// The worker refused the lease: returned once nothing is in flight.
    bool refused = false;
  };
  using LeasePtr = std::shared_ptr<Lease>;
  struct SchedulingClass {
    std::deque<PendingTaskPtr> queue;
    std::vector<LeasePtr> leases;
    int requesting = 0;
  };
  using Actions = std::vector<std::function<void()>>;

  static std::string KeyOf(const rpc::TaskSpec& spec);
  void Dispatch(const std::string& key, Actions& actions);
  void Push(const LeasePtr& lease, std::vector<PendingTaskPtr> batch, Actions& actions);
  void RequestLease(const std::string& key, const rpc::TaskSpec& spec, Actions& actions);
  /// Sends `req` to the raylet at `raylet` ("host:port"); call without mu_.
  /// `for_task` at `attempt`: the task the request is made for (who a start failure charges).
  void RequestLeaseAt(const std::string& key, rpc::RequestWorkerLeaseRequest req, const std::string& raylet,
                      const std::string& for_task, int32_t attempt);
  void OnLeaseReply(const std::string& key, const grpc::Status& status, rpc::RequestWorkerLeaseReply& reply,
                    const rpc::RequestWorkerLeaseRequest& req, const std::string& raylet, const std::string& for_task,
                    int32_t attempt);
  void OpenStream(const LeasePtr& lease);
  void OnReply(const LeasePtr& lease, rpc::PushTasksReply& reply);
  void OnStreamClosed(const LeasePtr& lease, const grpc::Status& status);
  /// A lease reply's failure (policy::LeaseFailure): a worker that died before
  /// registering charges `for_task` one attempt (only while it still waits in
  /// the queue at `attempt`) and asks again, or fails only it once its retries
  /// are spent; any other failure fails the class.
  void OnLeaseFailure(const std::string& key, const rpc::ErrorRecord& failure, const std::string& for_task,
                      int32_t attempt, Actions& actions);
  bool IsRemote(const Lease& lease) const;
  void HoldArgsAfterDeath(const PendingTaskPtr& t, Actions& actions);
  std::vector<LeasePtr> RemoteLeases();
  /// Starts the node watch if it is not running (call with mu_ held).
  void MaybeWatchNodes(Actions& actions);
  /// One round of the node watch: read the node table, end leases on dead nodes.
  void WatchNodes();
  void OnNodeTable(const rpc::GetAllNodesReply& reply);
  /// Removes a task's bookkeeping once it is finished.
  void Forget(const std::string& task_id) { spared_.erase(task_id); }
  void FailQueue(const std::string& key, const rpc::ErrorRecord& record, Actions& actions);
  void MaybeLinger(const LeasePtr& lease, Actions& actions);
  void Expire(const LeasePtr& lease, uint64_t gen);
  void ReturnLease(const LeasePtr& lease, bool disconnect);
  bool ShuttingDown() const { return d_.shutting_down && d_.shutting_down(); }
  static void RemoveLease(SchedulingClass& sc, const LeasePtr& lease);
  static void Run(Actions& actions);

  Deps d_;
  std::mutex mu_;
  std::unordered_map<std::string, SchedulingClass> classes_;
  bool closed_ = false;
  /// Tasks sent back to the queue uncharged from a dead worker's pipeline: how often.
  std::unordered_map<std::string, int> spared_;
  bool watching_ = false;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_NORMAL_TASK_SUBMITTER_H_

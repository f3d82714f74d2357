// The CoreWorker of a C++ process (docs/architecture.md): the runtime behind
// internal::Runtime. It submits tasks and actor calls, owns the objects it
// creates (put values, task returns), answers GetObject / UpdateBorrows for
// them, and resolves Get. A driver runs one with its own CoreWorkerService
// server; a worker runs one beside its TaskReceiver, so tasks can submit
// tasks (nested).
//
// The work is split by concept, one component a file (as Ray's core_worker/):
//   TaskSubmission      specs of tasks / actor creations / actor calls, GCS calls
//   NormalTaskSubmitter leases per scheduling class, one PushTasks stream a lease
//   ActorTaskSubmitter  one ordered PushTasks stream per actor
//   OwnedObjects        put values, task returns, store writes + pins
//   ObjectGetter        Get / Wait, fetching borrowed objects from owners
//   ObjectPuller        copies of objects held on other nodes (ReadObject)
//   Lineage, ObjectRecovery  specs of stored returns; re-running them when lost
//   NodeDirectory       where other nodes' raylets are (GCS node table)
//   ReferenceCounter    counts; BorrowTracker: batched frees / borrow updates
//   MemoryStore         known values and their waiters; StoreIo: the shm store
//   CoreWorkerServer    the CoreWorkerService this process serves
//   PushPort            a worker's push port (PushTasks as TCP frames)
//
// Threads: user threads call the Runtime methods; gRPC's callback threads
// run completions (lease replies, stream reads, GetObject replies), the
// CoreWorkerService and a driver's LogSubscriber stream; one Scheduler
// thread runs timers. In a worker, pushed tasks run on the main thread
// (TaskReceiver::RunLoop), plus max_concurrency - 1 more for a threaded
// actor; its push port has an accept thread and a reader thread per
// connection; one detached thread ends the process when its raylet (its
// parent) dies. Components guard their state with their own mutexes and
// never call gRPC or another component's callbacks while holding them.
//
// Invariants: an owned object is completed once (value, store location or
// error); every wait ends (value, error or timeout); after Shutdown() no
// RefPtr deleter touches the runtime and every waiter has been woken.
#ifndef POLYRAY_CORE_CORE_WORKER_H_
#define POLYRAY_CORE_CORE_WORKER_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/channels.h"
#include "core/generator_streams.h"
#include "core/memory_store.h"
#include "core/reference_counter.h"
#include "core/scheduler.h"
#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"

namespace polyray::core {

class ActorInfoClient;
class ActorTaskSubmitter;
class BorrowTracker;
class BorrowerWatch;
class TaskEvents;
class CoreWorkerServer;
class LeaseClient;
class NodeDirectory;
class NormalTaskSubmitter;
class ObjectGetter;
class ObjectPuller;
class ObjectRecovery;
class Lineage;
class OwnedObjects;
class PushPort;
class StoreIo;
class TaskReceiver;
class TaskStreamOpener;
class TaskSubmission;
struct RefSink;

/// Who a CoreWorker is and where its cluster is.
struct CoreWorkerOptions {
  bool is_driver = true;
  std::string gcs_address;     // host:port
  std::string raylet_address;  // host:port
  std::string node_id;
  std::string store_name;
  std::string job_id;
  std::string worker_id;
  std::string ray_namespace;
  std::vector<std::string> code_search_path;
  /// A driver's Config::default_actor_lifetime (workers read their job's from the GCS).
  std::string default_actor_lifetime;
  /// The job's runtime env (JSON; docs/jobs.md, "Runtime environments"), carried by every
  /// spec this process makes. Empty: $POLYRAY_RUNTIME_ENV_JSON (set by the job supervisor
  /// for a driver, by the raylet for a worker started in one), read by the constructor.
  std::string runtime_env;
  /// The address the CoreWorkerService binds and advertises.
  std::string host = "127.0.0.1";
  /// The bound of the lineage kept to recompute lost objects (< 0: the
  /// spec's; POLYRAY_LINEAGE_MAX_BYTES wins).
  int64_t lineage_max_bytes = -1;
};

/// The runtime of this process; see the file comment.
class CoreWorker final : public internal::Runtime {
 public:
  explicit CoreWorker(CoreWorkerOptions options);
  ~CoreWorker() override;
  CoreWorker(const CoreWorker&) = delete;
  CoreWorker& operator=(const CoreWorker&) = delete;

  /// Starts the CoreWorkerService on host:0 (tasks go to `receiver`, null for
  /// a driver) and sets address(). Throws polyray::Error when it cannot bind.
  void StartServer(TaskReceiver* receiver);
  /// Starts the push port on host:0 (tasks go to `receiver`) and sets
  /// address().push_port. A worker's, before RegisterWithRaylet. Throws
  /// polyray::Error when it cannot listen.
  void StartPushPort(TaskReceiver* receiver);
  /// Updates the node identity (a worker's RegisterWorker reply wins).
  void SetNode(const std::string& node_id, const std::string& store_name);
  /// Registers this process with its raylet (RegisterWorker: worker id,
  /// language CPP, pid, the server's port, the push port (0: none), job,
  /// is_driver and, for a leased worker, `startup_token`) and takes the node
  /// identity from the reply.
  /// Call after StartServer. Throws polyray::Error naming the raylet.
  void RegisterWithRaylet(const std::string& startup_token = "");
  /// Frees what this process owns, closes streams and leases, stops the
  /// push port and the server; waiters end with errors. Idempotent.
  void Shutdown();

  // ---- internal::Runtime ----
  std::vector<internal::RefPtr> SubmitTask(const internal::FunctionDescriptor& function,
                                           std::vector<internal::TaskArg> args,
                                           const internal::CallOptions& options) override;
  internal::ActorPtr CreateActor(const internal::FunctionDescriptor& creation,
                                 std::vector<internal::TaskArg> args,
                                 const internal::CallOptions& options) override;
  std::vector<internal::RefPtr> SubmitActorTask(const internal::ActorPtr& actor,
                                                const internal::FunctionDescriptor& method,
                                                std::vector<internal::TaskArg> args,
                                                const internal::CallOptions& options) override;
  internal::RefPtr Put(internal::Encoded value) override;
  std::vector<internal::ValueView> Get(const std::vector<internal::RefPtr>& refs,
                                       int64_t timeout_ms) override;
  internal::WaitResult Wait(const std::vector<internal::RefPtr>& refs, int num_returns,
                            int64_t timeout_ms) override;
  internal::ActorPtr GetActor(const std::string& name, const std::string& ray_namespace) override;
  void KillActor(const internal::ActorPtr& actor, bool no_restart) override;
  void Cancel(const internal::RefPtr& ref, bool force, bool recursive) override;
  internal::RefPtr BorrowRef(const std::string& serialized_ref) override;
  internal::ActorPtr BorrowActor(const std::string& serialized_handle) override;
  internal::GeneratorStep NextGeneratorItem(const internal::RefPtr& end, size_t k, int64_t timeout_ms) override;
  void DropGenerator(const internal::RefPtr& end) override;

  // ---- identity ----
  const CoreWorkerOptions& options() const { return options_; }
  /// This process's address (node, host, port, worker id, push port); set by
  /// StartServer and StartPushPort.
  const rpc::Address& address() const { return address_; }
  const std::string& node_id() const { return options_.node_id; }
  const std::string& worker_id() const { return options_.worker_id; }
  const std::string& job_id() const { return options_.job_id; }
  /// The node's folder of worker log files (RegisterWorkerReply.log_dir), once registered.
  const std::string& log_dir() const { return log_dir_; }
  bool is_driver() const { return options_.is_driver; }
  bool shutting_down() const { return shutting_down_.load(); }

  // ---- task context (puts and nested tasks belong to the running task) ----
  /// Marks the calling thread as running `task_id`; `blocks_cpu`: a leased
  /// worker's normal task (its CPUs go back to the node while it waits).
  void EnterTask(const std::string& task_id, bool blocks_cpu);
  /// The calling thread no longer runs a task (references it dropped stay
  /// deferred until ReleaseDeferredRefs(true)).
  void ExitTask();
  /// Releases the local references the calling thread's task dropped.
  ///
  /// From EnterTask on, a RefPtr destroyed on a task thread is not released
  /// at once: the refs inside a C++ return value die as soon as the value is
  /// encoded, inside the executor, before TaskReceiver can lend them to the
  /// caller (ReferenceCounter::AddLent); an owned object whose last local
  /// reference went would be freed under the caller. So drops are deferred
  /// until the task's returns were lent (`task_done`: the TaskReceiver, which
  /// also ends the deferral), and, while the task's code runs, released at
  /// each call it makes into the runtime (`task_done` false: Put, Get, Wait,
  /// submissions), so a long task that drops references does not keep them.
  /// (A reference dropped while user code still runs cannot be in the return
  /// value: the value holds its own RefPtr.)
  void ReleaseDeferredRefs(bool task_done);
  /// The running task's id (the driver task's outside tasks).
  std::string CurrentTaskId() const;
  /// A new put ObjectID of the running task.
  std::string NextPutId();
  /// Whether the calling thread runs a normal task of a leased worker.
  bool InBlockingTask() const;

  // ---- references ----
  /// A counted reference to `ref` (owned when its owner is this worker, else
  /// borrowed and registered with the owner on its first local reference).
  internal::RefPtr MakeRef(const rpc::ObjectRef& ref);
  /// A counted reference to an object this process owns.
  internal::RefPtr OwnedRef(const std::string& oid);
  /// The entry of an actor handle: for a counted handle (actor_handles.h) it
  /// holds a reference to the actor's handle pseudo-object while it lives.
  internal::ActorPtr MakeActor(const rpc::ActorHandle& handle, std::string serialized);
  /// (Owner.) Asks the GCS to destroy an actor whose last handle went (not awaited).
  void DestroyActor(const std::string& actor_id);
  /// The protocol message of an object owned here.
  rpc::ObjectRef OwnedRefMessage(const std::string& oid) const;
  /// Counted references to each of `refs` (kept while a value holds them).
  std::vector<internal::RefPtr> HoldNested(
      const google::protobuf::RepeatedPtrField<rpc::ObjectRef>& refs);

  // ---- components ----
  Scheduler& scheduler() { return *scheduler_; }
  Channels& channels() { return channels_; }
  MemoryStore& memory_store() { return memory_store_; }
  /// The generator tasks this process called (generator_streams.h).
  GeneratorStreams& generators() { return generators_; }
  ReferenceCounter& references() { return *references_; }
  BorrowTracker& borrows() { return *borrows_; }
  StoreIo& store() { return *store_; }
  OwnedObjects& owned() { return *owned_; }
  ObjectGetter& getter() { return *getter_; }
  NodeDirectory& nodes() { return *nodes_; }
  ObjectPuller& puller() { return *puller_; }
  NormalTaskSubmitter& submitter() { return *submitter_; }
  ActorTaskSubmitter& actor_submitter() { return *actor_submitter_; }
  TaskSubmission& tasks() { return *tasks_; }
  Lineage& lineage() { return *lineage_; }
  ObjectRecovery& recovery() { return *recovery_; }
  /// Task events to the GCS (task_events.h); null with POLYRAY_TASK_EVENTS=0.
  TaskEvents* task_events() { return task_events_.get(); }

 private:
  CoreWorkerOptions options_;
  rpc::Address address_;
  std::string driver_task_id_;
  std::atomic<uint32_t> driver_puts_{0};  // puts outside tasks
  std::atomic<bool> shutting_down_{false};
  std::shared_ptr<RefSink> sink_;

  std::unique_ptr<Scheduler> scheduler_;
  Channels channels_;
  MemoryStore memory_store_;
  GeneratorStreams generators_;
  std::unique_ptr<ReferenceCounter> references_;
  std::unique_ptr<BorrowTracker> borrows_;
  // Dead borrowers' borrows and lends are released (borrower_watch.h).
  std::shared_ptr<BorrowerWatch> borrower_watch_;
  std::shared_ptr<TaskEvents> task_events_;
  std::unique_ptr<StoreIo> store_;
  std::unique_ptr<OwnedObjects> owned_;
  std::unique_ptr<ObjectGetter> getter_;
  std::unique_ptr<NodeDirectory> nodes_;
  std::unique_ptr<ObjectPuller> puller_;
  // The submitters' ways out (their seams: fakes in their unit tests).
  std::unique_ptr<LeaseClient> lease_client_;
  std::unique_ptr<ActorInfoClient> actor_info_;
  std::unique_ptr<TaskStreamOpener> stream_opener_;
  std::unique_ptr<NormalTaskSubmitter> submitter_;
  std::unique_ptr<ActorTaskSubmitter> actor_submitter_;
  std::unique_ptr<TaskSubmission> tasks_;
  // Lost objects are recomputed from their lineage (lineage.h, object_recovery.h).
  std::unique_ptr<Lineage> lineage_;
  std::unique_ptr<ObjectRecovery> recovery_;
  std::unique_ptr<CoreWorkerServer> server_;
  std::unique_ptr<PushPort> push_port_;
  std::string log_dir_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_CORE_WORKER_H_

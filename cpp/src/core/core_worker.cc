// CoreWorker of core_worker.h: wiring of the components, the Runtime
// methods, counted references and the per-thread task context.
#include "core/core_worker.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <thread>
#include <vector>

#include "core/actor_handles.h"
#include "core/actor_info_client.h"
#include "core/actor_task_submitter.h"
#include "core/borrow_tracker.h"
#include "core/cancel.h"
#include "core/borrower_watch.h"
#include "core/common.h"
#include "core/core_worker_server.h"
#include "core/ids.h"
#include "core/lease_client.h"
#include "core/lineage.h"
#include "core/node_directory.h"
#include "core/node_watch_client.h"
#include "core/normal_task_submitter.h"
#include "core/object_getter.h"
#include "core/object_puller.h"
#include "core/object_recovery.h"
#include "core/owned_objects.h"
#include "core/push_port.h"
#include "core/store_io.h"
#include "core/task_stream.h"
#include "core/task_events.h"
#include "core/task_submission.h"
#include "core/rpc_call.h"
#include "polyray/protocol/gcs.grpc.pb.h"
#include "polyray/exceptions.h"
#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/raylet.grpc.pb.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {

/// Where RefPtr deleters send their decrements: the core until Shutdown,
/// then nowhere (a RefPtr may outlive the runtime).
struct RefSink {
  std::atomic<int> active{0};
  std::atomic<bool> closed{false};
  CoreWorker* core = nullptr;
};

namespace {

/// The task whose code runs on a thread (its puts and nested tasks belong to it).
struct TaskContext {
  const CoreWorker* core = nullptr;
  std::string task_id;
  uint32_t puts = 0;
  bool blocks_cpu = false;
  /// From EnterTask until ReleaseDeferredRefs: local references dropped on
  /// this thread are kept (counted) in `deferred` instead of released, so
  /// the refs inside a return value outlive its encoding until they are lent.
  const CoreWorker* defer_for = nullptr;
  std::vector<std::string> deferred;
};
thread_local TaskContext* tls_task = nullptr;

internal::RefPtr NewRefEntry(const std::shared_ptr<RefSink>& sink, std::string oid, std::string serialized) {
  auto* e = new internal::RefEntry{std::move(oid), std::move(serialized)};
  return internal::RefPtr(e, [sink](const internal::RefEntry* p) {
    sink->active.fetch_add(1);
    if (!sink->closed.load()) {
      if (tls_task && tls_task->defer_for == sink->core) {
        tls_task->deferred.push_back(p->object_id);  // released once the task's returns are lent
      } else {
        sink->core->references().RemoveLocal(p->object_id);
      }
    }
    sink->active.fetch_sub(1);
    delete p;
  });
}

}  // namespace

CoreWorker::CoreWorker(CoreWorkerOptions options)
    : options_(std::move(options)), driver_task_id_(NewTaskId(options_.job_id)), sink_(std::make_shared<RefSink>()) {
  if (options_.runtime_env.empty()) {
    if (const char* env = std::getenv("POLYRAY_RUNTIME_ENV_JSON")) options_.runtime_env = env;
  }
  sink_->core = this;
  scheduler_ = std::make_unique<Scheduler>();
  ReferenceCounter::Listener listener;
  listener.free = [this](const std::string& oid, const std::vector<std::string>& nodes) {
    if (IsHandleObjectId(oid)) {  // the actor's last handle went (actor_handles.h)
      DestroyActor(ActorIdOfHandleObject(oid));
      return;
    }
    lineage_->OnFree(oid);
    borrows_->OnFree(oid, nodes);
  };
  listener.borrow_changed = [this](const rpc::Address& owner, std::vector<std::string> added,
                                   std::vector<std::string> removed) {
    borrows_->OnBorrowChanged(owner, std::move(added), std::move(removed));
  };
  listener.lent_received = [this](const rpc::Address& owner, std::vector<std::string> oids,
                                  const std::string& lender) {
    borrows_->OnLentReceived(owner, std::move(oids), lender);
  };
  listener.first_holder = [this] {
    if (borrower_watch_) borrower_watch_->Start();
  };
  references_ = std::make_unique<ReferenceCounter>(std::move(listener));
  borrower_watch_ = std::make_shared<BorrowerWatch>(
      *references_, *scheduler_, std::make_shared<GrpcDeadWorkersClient>(channels_, options_.gcs_address),
      options_.worker_id, spec::kBorrowersDeathWatchMs);
  if (TaskEvents::Enabled()) {
    std::string gcs = options_.gcs_address;
    task_events_ = std::make_shared<TaskEvents>(
        *scheduler_,
        [this, gcs](rpc::AddTaskEventsRequest req, std::function<void(bool)> done) {
          auto stub = std::shared_ptr<rpc::GcsService::Stub>(rpc::GcsService::NewStub(channels_.Get(gcs)));
          CallAsync<rpc::AddTaskEventsReply>(
              [stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->AddTaskEvents(ctx, rq, rp, std::move(cb)); },
              std::move(req), std::chrono::milliseconds(5000),
              std::function<void(const grpc::Status&, rpc::AddTaskEventsReply&)>(
                  [stub, done = std::move(done)](const grpc::Status& st, rpc::AddTaskEventsReply&) { done(st.ok()); }));
        },
        [this, gcs](const rpc::AddTaskEventsRequest& req) {
          auto stub = rpc::GcsService::NewStub(channels_.Get(gcs));
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
          rpc::AddTaskEventsReply reply;
          return stub->AddTaskEvents(&ctx, req, &reply).ok();
        },
        [this] { return options_.node_id; }, options_.worker_id,
        static_cast<size_t>(spec::kEventsMaxBufferedPerProcess), static_cast<size_t>(spec::kEventsMaxPerBatch),
        spec::kEventsFlushIntervalMs);
    task_events_->Start();
  }
  borrows_ = std::make_unique<BorrowTracker>(*this);
  store_ = std::make_unique<StoreIo>(options_.store_name);
  // A driver's first large puts take no page faults (docs/performance.md, Large puts).
  if (options_.is_driver) store_->PrefaultInBackground(StoreIo::PrefaultBytesFromEnv());
  owned_ = std::make_unique<OwnedObjects>(*this);
  getter_ = std::make_unique<ObjectGetter>(*this);
  nodes_ = std::make_unique<NodeDirectory>(*this);
  puller_ = std::make_unique<ObjectPuller>(*this);
  lease_client_ = std::make_unique<GrpcLeaseClient>(channels_);
  actor_info_ = std::make_unique<GrpcActorInfoClient>(channels_, options_.gcs_address);
  stream_opener_ = std::make_unique<ChannelTaskStreamOpener>(channels_);
  auto shutting_down = [this] { return shutting_down_.load(); };
  submitter_ = std::make_unique<NormalTaskSubmitter>(NormalTaskSubmitter::Deps{
      *lease_client_, *stream_opener_, *owned_, *scheduler_, options_.raylet_address, shutting_down,
      std::make_shared<GrpcNodeWatchClient>(channels_, options_.gcs_address), options_.node_id});
  actor_submitter_ = std::make_unique<ActorTaskSubmitter>(
      ActorTaskSubmitter::Deps{*actor_info_, *stream_opener_, *owned_, *scheduler_, shutting_down});
  // Actor calls wait in the caller for their ref arguments, not in the actor's stream (issue 17).
  actor_submitter_->SetArgResolver(
      [this](const rpc::TaskSpec& spec, std::function<void()> ready) { return getter_->ResolveArgs(spec, std::move(ready)); });
  tasks_ = std::make_unique<TaskSubmission>(*this);
  lineage_ = std::make_unique<Lineage>(LineageMaxBytes(options_.lineage_max_bytes),
                                       [this](const std::vector<std::string>& ids) { references_->RemoveSubmitted(ids); });
  recovery_ = std::make_unique<ObjectRecovery>(ObjectRecovery::Deps{
      *lineage_, memory_store_, [this](const std::string& oid) { return references_->IsOwned(oid); },
      [this](const std::vector<std::string>& ids) { references_->AddSubmitted(ids); },
      [this](PendingTaskPtr t) { submitter_->Submit(std::move(t)); },
      [this](const std::string& oid, const std::string& node) { return puller_->Probe(oid, node); },
      [this](const std::string& oid) { return references_->Locations(oid); }, {}});
  address_.set_node_id(options_.node_id);
  address_.set_host(options_.host);
  address_.set_worker_id(options_.worker_id);
}

CoreWorker::~CoreWorker() { Shutdown(); }

void CoreWorker::StartServer(TaskReceiver* receiver) {
  server_ = std::make_unique<CoreWorkerServer>(*this, receiver);
  address_.set_port(server_->Start(options_.host));
}

void CoreWorker::StartPushPort(TaskReceiver* receiver) {
  push_port_ = std::make_unique<PushPort>(*receiver, options_.worker_id);
  address_.set_push_port(push_port_->Start(options_.host));
}

void CoreWorker::RegisterWithRaylet(const std::string& startup_token) {
  rpc::RegisterWorkerRequest req;
  req.set_worker_id(options_.worker_id);
  req.set_language(rpc::CPP);
  req.set_pid(static_cast<int32_t>(getpid()));
  req.set_port(address_.port());
  req.set_push_port(address_.push_port());
  req.set_job_id(options_.job_id);
  req.set_startup_token(startup_token);
  req.set_is_driver(options_.is_driver);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(kRpcTimeout));
  rpc::RegisterWorkerReply reply;
  auto stub = rpc::RayletService::NewStub(channels_.Get(options_.raylet_address));
  grpc::Status st = stub->RegisterWorker(&ctx, req, &reply);
  if (!st.ok()) {
    throw polyray::Error(std::string("cannot register the ") + (options_.is_driver ? "driver" : "worker") +
                         " with the raylet at " + options_.raylet_address + ": " + st.error_message());
  }
  SetNode(reply.node_id(), reply.store_name());
  log_dir_ = reply.log_dir();
}

void CoreWorker::SetNode(const std::string& node_id, const std::string& store_name) {
  if (!node_id.empty()) {
    options_.node_id = node_id;
    address_.set_node_id(node_id);
  }
  if (!store_name.empty()) {
    options_.store_name = store_name;
    store_->SetName(store_name);
  }
}

void CoreWorker::Shutdown() {
  if (shutting_down_.exchange(true)) return;
  borrower_watch_->Stop();
  actor_submitter_->Close();
  submitter_->Close();
  if (task_events_) task_events_->Stop();
  owned_->pins().Close(5000);  // pins still queued are moot: the objects are freed now
  // What this process owns in the stores goes with it (every known copy).
  borrows_->FreeNow(references_->OwnedInStore());
  sink_->closed.store(true);
  while (sink_->active.load() > 0) std::this_thread::yield();
  generators_.Close();  // after the sink closed: the items' refs let go without the runtime
  memory_store_.FailWaiters(ErrorEntry(SystemError(
      rpc::WORKER_CRASHED, "the polyray runtime of this process was shut down while waiting for the object")));
  recovery_->Stop();
  if (push_port_) push_port_->Stop();
  if (server_) server_->Shutdown();
  scheduler_->Stop();
}

// ---------------------------------------------------------------- Runtime

std::vector<internal::RefPtr> CoreWorker::SubmitTask(const internal::FunctionDescriptor& function,
                                                     std::vector<internal::TaskArg> args,
                                                     const internal::CallOptions& options) {
  ReleaseDeferredRefs(false);
  return tasks_->SubmitTask(function, std::move(args), options);
}

internal::ActorPtr CoreWorker::CreateActor(const internal::FunctionDescriptor& creation,
                                           std::vector<internal::TaskArg> args,
                                           const internal::CallOptions& options) {
  ReleaseDeferredRefs(false);
  return tasks_->CreateActor(creation, std::move(args), options);
}

std::vector<internal::RefPtr> CoreWorker::SubmitActorTask(const internal::ActorPtr& actor,
                                                          const internal::FunctionDescriptor& method,
                                                          std::vector<internal::TaskArg> args,
                                                          const internal::CallOptions& options) {
  ReleaseDeferredRefs(false);
  return tasks_->SubmitActorTask(actor, method, std::move(args), options);
}

internal::RefPtr CoreWorker::Put(internal::Encoded value) {
  ReleaseDeferredRefs(false);
  if (shutting_down()) throw polyray::Error("the polyray runtime is shut down");
  AddHandleRefs(value);  // a put value holds the actor handles in it
  return owned_->Put(std::move(value));
}

std::vector<internal::ValueView> CoreWorker::Get(const std::vector<internal::RefPtr>& refs, int64_t timeout_ms) {
  ReleaseDeferredRefs(false);
  return getter_->Get(refs, timeout_ms);
}

internal::WaitResult CoreWorker::Wait(const std::vector<internal::RefPtr>& refs, int num_returns,
                                      int64_t timeout_ms) {
  ReleaseDeferredRefs(false);
  return getter_->Wait(refs, num_returns, timeout_ms);
}

internal::ActorPtr CoreWorker::GetActor(const std::string& name, const std::string& ray_namespace) {
  return tasks_->GetActor(name, ray_namespace);
}

void CoreWorker::KillActor(const internal::ActorPtr& actor, bool no_restart) {
  tasks_->KillActor(actor, no_restart);
}

void CoreWorker::Cancel(const internal::RefPtr& ref, bool force, bool recursive) {
  ReleaseDeferredRefs(false);
  CancelRef(*this, ref->serialized, force, recursive);
}

internal::GeneratorStep CoreWorker::NextGeneratorItem(const internal::RefPtr& end, size_t k, int64_t timeout_ms) {
  ReleaseDeferredRefs(false);
  if (!end || end->object_id.size() != kObjectIdBytes) throw polyray::Error("polyray: an empty generator");
  return generators_.Take(end->object_id.substr(0, kTaskIdSize), k, timeout_ms);
}

void CoreWorker::DropGenerator(const internal::RefPtr& end) {
  if (!end || end->object_id.size() != kObjectIdBytes || shutting_down()) return;
  generators_.Drop(end->object_id.substr(0, kTaskIdSize));
}

internal::RefPtr CoreWorker::BorrowRef(const std::string& serialized_ref) {
  rpc::ObjectRef msg;
  if (!msg.ParseFromString(serialized_ref) || msg.object_id().size() != kObjectIdBytes) {
    throw polyray::Error("a malformed ObjectRef was received (" + std::to_string(serialized_ref.size()) + " bytes)");
  }
  bool owned = IsWorker(msg.owner(), options_.worker_id);
  references_->AddLocal(msg.object_id(), owned ? nullptr : &msg.owner());
  return NewRefEntry(sink_, msg.object_id(), serialized_ref);
}

internal::ActorPtr CoreWorker::BorrowActor(const std::string& serialized_handle) {
  rpc::ActorHandle h;
  if (!h.ParseFromString(serialized_handle)) {
    throw polyray::Error("a malformed ActorHandle was received (" + std::to_string(serialized_handle.size()) +
                         " bytes)");
  }
  return MakeActor(h, serialized_handle);
}

internal::ActorPtr CoreWorker::MakeActor(const rpc::ActorHandle& handle, std::string serialized) {
  auto* e = new internal::ActorEntry{handle.actor_id(), static_cast<Language>(handle.language()),
                                     std::move(serialized)};
  if (!Counted(handle)) return internal::ActorPtr(e);
  rpc::ObjectRef ref;
  ref.set_object_id(HandleObjectId(handle.actor_id()));
  *ref.mutable_owner() = handle.owner();
  // Copies share the entry: the reference goes with the last one.
  internal::RefPtr held = MakeRef(ref);
  return internal::ActorPtr(e, [held](const internal::ActorEntry* p) mutable {
    delete p;
    held.reset();
  });
}

void CoreWorker::DestroyActor(const std::string& actor_id) {
  // Off the caller's thread (a RefPtr deleter or a gRPC callback): one KillActor.
  std::shared_ptr<grpc::Channel> channel = channels_.Get(options_.gcs_address);
  std::thread([channel, actor_id] {
    rpc::KillActorRequest req;
    req.set_actor_id(actor_id);
    req.set_no_restart(true);
    req.set_out_of_scope(true);
    rpc::KillActorReply reply;
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(kRpcTimeout));
    grpc::Status st = rpc::GcsService::NewStub(channel)->KillActor(&ctx, req, &reply);
    if (!st.ok()) {
      std::fprintf(stderr, "[polyray] destroying actor %s (all handles out of scope) failed: %s\n",
                   Hex(actor_id).c_str(), st.error_message().c_str());
    }
  }).detach();
}

// ---------------------------------------------------------------- task context

void CoreWorker::EnterTask(const std::string& task_id, bool blocks_cpu) {
  if (!tls_task) tls_task = new TaskContext();  // one per task thread, reused
  tls_task->core = this;
  tls_task->task_id = task_id;
  tls_task->puts = 0;
  tls_task->blocks_cpu = blocks_cpu && !options_.is_driver;
  tls_task->defer_for = this;
}

void CoreWorker::ExitTask() {
  if (tls_task) tls_task->core = nullptr;
}

void CoreWorker::ReleaseDeferredRefs(bool task_done) {
  if (!tls_task || tls_task->defer_for != this) return;
  if (!task_done && tls_task->core != this) return;  // between ExitTask and the lend: keep them
  if (task_done) tls_task->defer_for = nullptr;
  // Releasing may free entries whose nested refs drop here again: loop until none is left.
  while (!tls_task->deferred.empty()) {
    std::vector<std::string> drops;
    drops.swap(tls_task->deferred);
    if (shutting_down_.load()) continue;
    for (const std::string& oid : drops) references_->RemoveLocal(oid);
  }
}

std::string CoreWorker::CurrentTaskId() const {
  if (tls_task && tls_task->core == this) return tls_task->task_id;
  return driver_task_id_;
}

std::string CoreWorker::NextPutId() {
  if (tls_task && tls_task->core == this) return PutId(tls_task->task_id, ++tls_task->puts);
  return PutId(driver_task_id_, ++driver_puts_);
}

bool CoreWorker::InBlockingTask() const { return tls_task && tls_task->core == this && tls_task->blocks_cpu; }

// ---------------------------------------------------------------- references

internal::RefPtr CoreWorker::MakeRef(const rpc::ObjectRef& ref) {
  bool owned = IsWorker(ref.owner(), options_.worker_id);
  references_->AddLocal(ref.object_id(), owned ? nullptr : &ref.owner());
  return NewRefEntry(sink_, ref.object_id(), internal::SerializeDeterministic(ref));
}

rpc::ObjectRef CoreWorker::OwnedRefMessage(const std::string& oid) const {
  rpc::ObjectRef msg;
  msg.set_object_id(oid);
  *msg.mutable_owner() = address_;
  return msg;
}

internal::RefPtr CoreWorker::OwnedRef(const std::string& oid) {
  references_->AddLocal(oid, nullptr);
  return NewRefEntry(sink_, oid, internal::SerializeDeterministic(OwnedRefMessage(oid)));
}

std::vector<internal::RefPtr> CoreWorker::HoldNested(const google::protobuf::RepeatedPtrField<rpc::ObjectRef>& refs) {
  std::vector<internal::RefPtr> out;
  out.reserve(refs.size());
  for (const auto& r : refs) out.push_back(MakeRef(r));
  return out;
}

}  // namespace polyray::core

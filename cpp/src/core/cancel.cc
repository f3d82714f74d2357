// HandleCancel of cancel.h.
#include "core/cancel.h"

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/actor_task_submitter.h"
#include "core/channels.h"
#include "core/common.h"
#include "core/core_worker.h"
#include "core/ids.h"
#include "core/normal_task_submitter.h"
#include "core/rpc_call.h"
#include "core/task_receiver.h"
#include "polyray/protocol/core_worker.grpc.pb.h"

namespace polyray::core {
namespace {

/// Sends CancelTask to the worker running a task this process submitted; best effort
/// (a worker that is gone fails the task anyway). `wait`: before this process
/// ends itself (a forced cancel of the task whose children these are).
void Forward(CoreWorker& w, const rpc::Address& worker, const std::string& task_id, bool force, bool recursive,
             bool wait) {
  rpc::CancelTaskRequest req;
  req.set_task_id(task_id);
  req.set_force(force);
  req.set_recursive(recursive);
  auto stub = rpc::CoreWorkerService::NewStub(w.channels().Get(Target(worker)));
  if (wait) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(std::chrono::seconds(2)));
    rpc::CancelTaskReply reply;
    stub->CancelTask(&ctx, req, &reply);  // a forced cancel ends that worker: no reply is fine
    return;
  }
  CallAsync<rpc::CancelTaskReply>(
      [&stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->CancelTask(ctx, rq, rp, std::move(cb)); },
      std::move(req), std::chrono::milliseconds(10'000), IgnoreReply<rpc::CancelTaskReply>());
}

constexpr char kActorForce[] =
    "force=True is not supported for actor tasks (as in Ray): use Kill() on the actor";

/// Cancels a task this process submitted (a normal task or an actor call);
/// false when it is not one (or finished). Throws std::invalid_argument for
/// force on an actor call.
bool CancelOwned(CoreWorker& w, const std::string& task_id, bool force, bool recursive, bool wait = false) {
  rpc::Address worker;
  switch (w.submitter().Cancel(task_id, &worker)) {
    case NormalTaskSubmitter::CancelFound::kDropped: return true;
    case NormalTaskSubmitter::CancelFound::kRunning: Forward(w, worker, task_id, force, recursive, wait); return true;
    case NormalTaskSubmitter::CancelFound::kUnknown: break;
  }
  if (!w.actor_submitter().Knows(task_id)) return false;
  if (force) throw std::invalid_argument(kActorForce);
  switch (w.actor_submitter().Cancel(task_id, &worker)) {
    case ActorTaskSubmitter::CancelFound::kDropped: return true;
    case ActorTaskSubmitter::CancelFound::kSent: Forward(w, worker, task_id, false, recursive, false); return true;
    case ActorTaskSubmitter::CancelFound::kUnknown: return false;  // it finished meanwhile
  }
  return false;
}

void CancelChildren(CoreWorker& w, const std::string& parent, bool force) {
  for (const std::string& child : w.submitter().ChildrenOf(parent)) CancelOwned(w, child, force, true, force);
}

}  // namespace

bool HandleCancel(CoreWorker& w, TaskReceiver* receiver, const std::string& task_id, bool force, bool recursive) {
  if (CancelOwned(w, task_id, force, recursive)) return true;
  if (receiver == nullptr) return false;
  if (force) {
    if (recursive) CancelChildren(w, task_id, force);
    return receiver->Cancel(task_id, true);  // a running normal task: the process ends here
  }
  bool attempted = receiver->Cancel(task_id, false);
  if (recursive) CancelChildren(w, task_id, false);
  return attempted;
}

void CancelRef(CoreWorker& w, const std::string& serialized_ref, bool force, bool recursive) {
  rpc::ObjectRef ref;
  if (!ref.ParseFromString(serialized_ref) || ref.object_id().size() != kObjectIdBytes) {
    throw std::invalid_argument("Cancel: a malformed ObjectRef");
  }
  std::string task_id = ref.object_id().substr(0, kTaskIdSize);
  if (!ref.owner().worker_id().empty() && !IsWorker(ref.owner(), w.worker_id())) {
    rpc::CancelTaskRequest req;
    req.set_task_id(task_id);
    req.set_force(force);
    req.set_recursive(recursive);
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(std::chrono::seconds(10)));
    rpc::CancelTaskReply reply;
    grpc::Status st = rpc::CoreWorkerService::NewStub(w.channels().Get(Target(ref.owner())))
                          ->CancelTask(&ctx, req, &reply);
    if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) throw std::invalid_argument(st.error_message());
    return;  // an owner that is gone: its task's returns fail with OwnerDiedError anyway
  }
  CancelOwned(w, task_id, force, recursive);
}

}  // namespace polyray::core

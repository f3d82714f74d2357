// CoreWorkerServer of core_worker_server.h, on gRPC's callback API.
#include "core/core_worker_server.h"

#include "core/cancel.h"

#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <string>
#include <unordered_set>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "core/borrow_tracker.h"
#include "core/auth.h"
#include "core/common.h"
#include "core/core_worker.h"
#include "core/ids.h"
#include "core/object_recovery.h"
#include "core/task_events.h"
#include "core/task_receiver.h"
#include "core/lease_proof.h"
#include "core/validation.h"
#include "polyray/exceptions.h"
#include "polyray/protocol/core_worker.grpc.pb.h"

namespace polyray::core {
namespace {

/// The longest an owner holds a GetObject (a request without a limit too).
constexpr int64_t kMaxGetObjectHoldMs = 60'000;

void FillReply(CoreWorker& w, rpc::GetObjectReply* reply, const std::string& oid, const EntryPtr& e) {
  reply->set_found(true);
  rpc::ReturnObject* obj = reply->mutable_object();
  obj->set_object_id(oid);
  obj->set_size(e->size);
  if (e->envelope) {
    *obj->mutable_value() = *e->envelope;
  } else {
    obj->set_in_store_node(e->in_store_node);
    // Every known copy, the primary first (copies pulled to other nodes).
    reply->add_locations(e->in_store_node);
    for (const std::string& node : w.references().Locations(oid)) {
      if (node != e->in_store_node) reply->add_locations(node);
    }
  }
}

/// Parses `in` into `msg` (a copy of the buffer: gRPC slices are shared).
bool ParseRequest(const grpc::ByteBuffer& in, google::protobuf::MessageLite* msg) {
  grpc::ByteBuffer copy(in);
  return grpc::SerializationTraits<google::protobuf::MessageLite>::Deserialize(&copy, msg).ok();
}

/// One unary call whose request and reply travel as bytes: the request is
/// parsed here, so one that does not decode is answered INVALID_ARGUMENT
/// naming the method (the callback API answers UNIMPLEMENTED when its own
/// deserializer fails, without calling the handler). The reactor owns the
/// parsed request and the typed reply until gRPC is done with the call.
template <class Req, class Rep>
class UnaryCall : public grpc::ServerUnaryReactor {
 public:
  explicit UnaryCall(grpc::ByteBuffer* out) : out_(out) {}

  /// Parses the request; false (and the call finished INVALID_ARGUMENT) when it does not decode.
  bool Parse(const grpc::ByteBuffer* in, const char* method) {
    if (in != nullptr && ParseRequest(*in, &request)) return true;
    Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string("CoreWorkerService/") + method + ": the request does not decode as " +
                            Req::descriptor()->name()));
    return false;
  }
  /// Finishes the call: the reply is serialized when `status` is OK.
  void Done(const grpc::Status& status) {
    if (status.ok()) {
      bool own = false;
      grpc::Status s = grpc::SerializationTraits<Rep>::Serialize(reply, out_, &own);
      if (!s.ok()) {
        Finish(s);
        return;
      }
    }
    Finish(status);
  }
  void OnDone() override { delete this; }

  Req request;
  Rep reply;

 private:
  grpc::ByteBuffer* out_;
};

/// (State API.) GetObjectRefs's answer: a page of the references counted
/// here, owned and borrowed, in object id order, with what the memory store
/// knows of each (status, size, copies).
void FillObjectRefs(CoreWorker& w, const rpc::GetObjectRefsRequest& request, rpc::GetObjectRefsReply* reply) {
  const size_t cap = spec::kStateMaxObjectRefsPerReply;
  size_t limit = request.limit() == 0 || request.limit() > cap ? cap : request.limit();
  std::vector<ReferenceCounter::RefRow> rows;
  size_t total = w.references().Listing(request.page_token(), limit + 1, &rows);
  bool more = rows.size() > limit;
  if (more) rows.resize(limit);
  *reply->mutable_address() = w.address();
  reply->set_pid(static_cast<int32_t>(::getpid()));
  reply->set_language(rpc::CPP);
  reply->set_is_driver(w.is_driver());
  reply->set_total(total);
  for (const auto& r : rows) {
    rpc::ObjectRefInfo* info = reply->add_objects();
    info->set_object_id(r.oid);
    info->set_owned(r.owned);
    if (!r.owned) *info->mutable_owner() = r.owner;
    info->set_local_refs(r.local);
    info->set_submitted_task_refs(r.submitted);
    for (const auto& b : r.borrowers) info->add_borrowers(b);
    info->set_contained_in(r.contained_in);
    info->set_lent(r.lent);
    info->set_size(-1);
    EntryPtr e = w.memory_store().GetIfReady(r.oid);
    if (!e) {
      info->set_status(rpc::OBJECT_PENDING);
      for (const auto& n : r.locations) info->add_locations(n);
    } else if (e->is_error()) {
      info->set_status(rpc::OBJECT_FAILED);
    } else {
      info->set_status(rpc::OBJECT_READY);
      info->set_size(static_cast<int64_t>(e->size));
      if (!e->envelope) {
        const std::vector<std::string>& nodes = r.owned || e->locations.empty() ? r.locations : e->locations;
        if (nodes.empty() && !e->in_store_node.empty()) {
          info->add_locations(e->in_store_node);
        }
        for (const auto& n : nodes) info->add_locations(n);
      }
    }
  }
  if (more) reply->set_next_page_token(rows.back().oid);
}

/// Finishes `call` with INVALID_ARGUMENT naming the field when `problem` is set.
template <class Call>
bool Rejected(Call* call, const std::string& problem) {
  if (problem.empty()) return false;
  call->Done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, problem));
  return true;
}

/// One PushTasks call on the worker's side.
/// Its messages travel as bytes and are parsed here, so a message that does
/// not decode ends the stream INVALID_ARGUMENT (the callback API's own
/// deserializer would fail the read without saying why).
class PushTasksReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  PushTasksReactor(CoreWorker& w, TaskReceiver* receiver) : w_(w), receiver_(receiver) {}

  /// Starts reading; the reactor holds itself until OnDone.
  static PushTasksReactor* Start(CoreWorker& w, TaskReceiver* receiver) {
    auto r = std::make_shared<PushTasksReactor>(w, receiver);
    r->self_ = r;
    r->StartRead(&r->request_bytes_);
    return r.get();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      bool finish;
      {
        std::lock_guard<std::mutex> lock(mu_);
        half_closed_ = true;
        finish = FinishLocked();
      }
      if (finish) Finish(grpc::Status::OK);
      return;
    }
    request_.Clear();
    std::string bad = ParseRequest(request_bytes_, &request_)
                          ? CheckPush(request_)
                          : "CoreWorkerService/PushTasks: a message does not decode as PushTasksRequest";
    request_bytes_.Clear();
    for (const rpc::TaskSpec& spec : request_.tasks()) {
      if (!bad.empty()) break;
      std::string problem = CheckTaskSpec(spec);
      if (!problem.empty() && !TaskAddressable(spec)) bad = "a task that cannot be answered: " + problem;
    }
    if (!bad.empty()) {
      // Results of tasks already taken are lost with the stream, as when a
      // stream breaks; the caller fails or retries them.
      std::fprintf(stderr, "polyray C++ worker %s: closing a PushTasks stream: %s\n",
                   ShortHex(w_.worker_id()).c_str(), bad.c_str());
      bool finish_now;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (finished_) return;
        cancelled_ = true;  // no more writes; a write in flight finishes the call when done
        finish_now = !writing_;
        if (finish_now) finished_ = true;
      }
      if (finish_now) Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, bad));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ += request_.tasks_size();
    }
    std::weak_ptr<PushTasksReactor> weak = self_;
    LeaseGuard& guard = LeaseGuard::Process();
    guard.Open(request_, lease_);
    for (rpc::TaskSpec& spec : *request_.mutable_tasks()) {
      std::string problem = CheckTaskSpec(spec);
      if (!problem.empty()) {
        std::fprintf(stderr, "polyray C++ worker %s: rejecting a pushed task: %s\n",
                     ShortHex(w_.worker_id()).c_str(), problem.c_str());
        Reply(InvalidTaskResult(spec, problem, ShortHex(w_.worker_id())));
        continue;
      }
      if (guard.enabled()) {
        std::string why = guard.Refusal(lease_, spec);
        if (!why.empty()) {
          std::fprintf(stderr, "polyray C++ worker %s: refusing a pushed task: %s\n",
                       ShortHex(w_.worker_id()).c_str(), why.c_str());
          Reply(RefusedTaskResult(spec, why, ShortHex(w_.worker_id())));
          continue;
        }
      }
      auto owned = std::make_shared<rpc::TaskSpec>(std::move(spec));
      if (receiver_ == nullptr) {
        rpc::ErrorRecord r = SystemError(rpc::RUNTIME_ERROR, "task " + owned->name() + " was pushed to a driver (" +
                                                                 ShortHex(w_.worker_id()) + "), which runs no tasks");
        Reply(ErrorResult(*owned, internal::SerializeDeterministic(r), false));
        continue;
      }
      receiver_->Enqueue(std::move(owned), [weak](rpc::TaskResult result) {
        if (auto self = weak.lock()) self->Reply(std::move(result));
      });
    }
    request_.Clear();
    StartRead(&request_bytes_);
  }

  void OnWriteDone(bool ok) override {
    bool write = false;
    bool finish = false;
    bool cancelled = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) cancelled_ = true;  // the caller went away; it fails these tasks itself
      write = TakeBatchLocked();
      if (!write) finish = FinishLocked();
      cancelled = cancelled_;
    }
    if (write) StartWrite(&reply_bytes_);
    if (finish) Finish(cancelled ? grpc::Status::CANCELLED : grpc::Status::OK);
  }

  void OnCancel() override {
    bool finish;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      finish = FinishLocked();
    }
    if (finish) Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    std::shared_ptr<PushTasksReactor> keep;
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    keep = std::move(self_);  // dies after the lock is released
  }

  /// A task's result: sent now, or with the next batch.
  void Reply(rpc::TaskResult result) {
    bool write = false;
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!result.generator_item()) pending_--;  // a generator's items precede its task's end
      if (finished_ || cancelled_) {
        finish = FinishLocked();
      } else {
        ready_.push_back(std::move(result));
        write = TakeBatchLocked();
      }
    }
    if (write) StartWrite(&reply_bytes_);
    if (finish) Finish(grpc::Status::CANCELLED);
  }

 private:
  bool TakeBatchLocked() {
    if (writing_ || ready_.empty() || finished_ || cancelled_) return false;
    reply_.Clear();
    for (auto& r : ready_) *reply_.add_results() = std::move(r);
    ready_.clear();
    bool own = false;
    reply_bytes_.Clear();
    grpc::SerializationTraits<rpc::PushTasksReply>::Serialize(reply_, &reply_bytes_, &own);
    writing_ = true;
    return true;
  }
  /// Whether to Finish now: the caller is done (or gone) and nothing is left to write.
  bool FinishLocked() {
    if (finished_ || writing_) return false;
    if (cancelled_ || (half_closed_ && pending_ == 0 && ready_.empty())) {
      finished_ = true;
      return true;
    }
    return false;
  }

  CoreWorker& w_;
  TaskReceiver* receiver_;
  std::shared_ptr<PushTasksReactor> self_;
  grpc::ByteBuffer request_bytes_;
  rpc::PushTasksRequest request_;
  StreamLease lease_;  // what this stream proved (lease_proof.h); read callbacks only
  rpc::PushTasksReply reply_;
  grpc::ByteBuffer reply_bytes_;
  std::mutex mu_;
  std::vector<rpc::TaskResult> ready_;
  int pending_ = 0;
  bool writing_ = false;
  bool half_closed_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
  bool done_ = false;
};

}  // namespace

/// Every method takes its request as bytes and parses it itself (UnaryCall,
/// PushTasksReactor), so an undecodable request is INVALID_ARGUMENT.
using RawService = rpc::CoreWorkerService::WithRawCallbackMethod_PushTasks<
    rpc::CoreWorkerService::WithRawCallbackMethod_GetObject<rpc::CoreWorkerService::WithRawCallbackMethod_GetObjects<
        rpc::CoreWorkerService::WithRawCallbackMethod_UpdateBorrows<
            rpc::CoreWorkerService::WithRawCallbackMethod_AddObjectLocation<
                rpc::CoreWorkerService::WithRawCallbackMethod_CancelTask<
                    rpc::CoreWorkerService::WithRawCallbackMethod_Exit<
                        rpc::CoreWorkerService::WithRawCallbackMethod_GetObjectRefs<
                            rpc::CoreWorkerService::Service>>>>>>>>;

using GetObjectCall = UnaryCall<rpc::GetObjectRequest, rpc::GetObjectReply>;
using GetObjectsCall = UnaryCall<rpc::GetObjectsRequest, rpc::GetObjectsReply>;

class CoreWorkerServer::Service : public RawService {
 public:
  Service(CoreWorker& w, TaskReceiver* receiver) : w_(w), receiver_(receiver) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* PushTasks(
      grpc::CallbackServerContext* /*ctx*/) override {
    return PushTasksReactor::Start(w_, receiver_);
  }

  grpc::ServerUnaryReactor* GetObject(grpc::CallbackServerContext* /*ctx*/, const grpc::ByteBuffer* in,
                                      grpc::ByteBuffer* out) override {
    auto* call = new GetObjectCall(out);
    if (!call->Parse(in, "GetObject")) return call;
    const rpc::GetObjectRequest* request = &call->request;
    if (Rejected(call, CheckId(request->object_id(), "GetObjectRequest.object_id", spec::kIdsObjectBytes))) {
      return call;
    }
    const std::string& oid = request->object_id();
    if (EntryPtr e = w_.memory_store().GetIfReady(oid); e && request->lost() && !e->envelope &&
                                                         w_.references().IsOwned(oid)) {
      // A borrower could read no copy: off this thread, probe the copies and
      // recompute the object when none is left, then answer with what comes.
      int64_t timeout_ms = request->timeout_ms();
      w_.recovery().PostAnswer(
          [this, call, oid, e, timeout_ms] {
            if (!w_.recovery().AnyCopy(oid, e)) w_.recovery().Recover(oid, e);
            Answer(call, oid, timeout_ms);
          },
          [call] { call->Done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the owner is shutting down")); });
      return call;
    }
    Answer(call, request->object_id(), request->timeout_ms());
    return call;
  }

  /// Answers GetObject for `oid`: at once when known, else when it becomes
  /// known or after `timeout_ms` (timed_out).
  /// (`oid` by value: the call, and its request, may be gone once it is answered.)
  void Answer(GetObjectCall* call, std::string oid, int64_t timeout_ms) {
    rpc::GetObjectReply* reply = &call->reply;
    if (EntryPtr e = w_.memory_store().GetIfReady(oid)) {
      FillReply(w_, reply, oid, e);
      call->Done(grpc::Status::OK);
      return;
    }
    if (!w_.references().IsOwned(oid) && !w_.memory_store().Contains(oid)) {
      reply->set_found(false);
      *reply->mutable_failure() =
          SystemError(rpc::OBJECT_LOST, "object " + Hex(oid) + " is not owned by worker " + ShortHex(w_.worker_id()) +
                                            " (already freed, or never existed)");
      call->Done(grpc::Status::OK);
      return;
    }
    struct Pending {
      std::atomic<bool> done{false};
      std::atomic<uint64_t> token{0};
    };
    auto pending = std::make_shared<Pending>();
    uint64_t token = w_.memory_store().Subscribe(oid, [this, pending, call, reply, oid](const EntryPtr& e) {
      if (pending->done.exchange(true)) return;
      FillReply(w_, reply, oid, e);
      call->Done(grpc::Status::OK);
    });
    pending->token = token;
    int64_t hold = timeout_ms < 0 ? kMaxGetObjectHoldMs : std::min(timeout_ms, kMaxGetObjectHoldMs);
    if (token != 0) {
      w_.scheduler().RunAfter(hold, [this, pending, call, reply, oid] {
        if (pending->done.exchange(true)) return;
        w_.memory_store().Unsubscribe(oid, pending->token);
        reply->set_timed_out(true);
        call->Done(grpc::Status::OK);
      });
    }
  }

  /// GetObjects: every id that is ready (or not owned here) at once; when none
  /// is, those ready when the first becomes ready, or an empty reply after the
  /// request's timeout (the borrower asks again for ids not answered). `lost`
  /// is not looked at here: borrowers ask about lost objects with GetObject.
  grpc::ServerUnaryReactor* GetObjects(grpc::CallbackServerContext* /*ctx*/, const grpc::ByteBuffer* in,
                                       grpc::ByteBuffer* out) override {
    auto* call = new GetObjectsCall(out);
    if (!call->Parse(in, "GetObjects")) return call;
    const rpc::GetObjectsRequest* request = &call->request;
    rpc::GetObjectsReply* reply = &call->reply;
    std::string problem;
    if (request->object_ids_size() > spec::kLimitsMaxListEntries) {
      problem = "GetObjectsRequest.object_ids: " + std::to_string(request->object_ids_size()) + " entries, more than " +
                std::to_string(spec::kLimitsMaxListEntries);
    }
    for (int i = 0; problem.empty() && i < request->object_ids_size(); ++i) {
      problem = CheckId(request->object_ids(i), "GetObjectsRequest.object_ids[" + std::to_string(i) + "]",
                        spec::kIdsObjectBytes);
    }
    if (Rejected(call, problem)) return call;
    // Read now: the request goes with the call once it is answered.
    int64_t hold = request->timeout_ms() < 0 ? kMaxGetObjectHoldMs
                                             : std::min<int64_t>(request->timeout_ms(), kMaxGetObjectHoldMs);
    std::vector<std::string> waiting;
    std::unordered_set<std::string> seen;
    for (const std::string& oid : request->object_ids()) {
      if (!seen.insert(oid).second) continue;
      if (EntryPtr e = w_.memory_store().GetIfReady(oid)) {
        reply->add_object_ids(oid);
        FillReply(w_, reply->add_objects(), oid, e);
      } else if (!w_.references().IsOwned(oid) && !w_.memory_store().Contains(oid)) {
        reply->add_object_ids(oid);
        rpc::GetObjectReply* one = reply->add_objects();
        one->set_found(false);
        *one->mutable_failure() = SystemError(rpc::OBJECT_LOST, "object " + Hex(oid) + " is not owned by worker " +
                                                                    ShortHex(w_.worker_id()) +
                                                                    " (already freed, or never existed)");
      } else {
        waiting.push_back(oid);
      }
    }
    if (reply->object_ids_size() > 0 || waiting.empty()) {
      call->Done(grpc::Status::OK);
      return call;
    }
    struct Pending {
      std::mutex mu;
      bool done = false;
      std::vector<std::pair<std::string, uint64_t>> tokens;
    };
    auto pending = std::make_shared<Pending>();
    // Answers once: with the waiting ids ready by now (none after the timeout).
    auto finish = [this, pending, call, reply, waiting](bool timed_out) {
      std::vector<std::pair<std::string, uint64_t>> tokens;
      {
        std::lock_guard<std::mutex> lock(pending->mu);
        if (pending->done) return;
        pending->done = true;
        tokens.swap(pending->tokens);
      }
      for (const auto& [oid, token] : tokens) w_.memory_store().Unsubscribe(oid, token);
      if (!timed_out) {
        for (const std::string& oid : waiting) {
          if (EntryPtr e = w_.memory_store().GetIfReady(oid)) {
            reply->add_object_ids(oid);
            FillReply(w_, reply->add_objects(), oid, e);
          }
        }
      }
      call->Done(grpc::Status::OK);
    };
    for (const std::string& oid : waiting) {
      uint64_t token = w_.memory_store().Subscribe(oid, [finish](const EntryPtr&) { finish(false); });
      std::lock_guard<std::mutex> lock(pending->mu);
      if (pending->done) {
        if (token != 0) w_.memory_store().Unsubscribe(oid, token);
        return call;
      }
      if (token != 0) pending->tokens.emplace_back(oid, token);
    }
    w_.scheduler().RunAfter(hold, [finish] { finish(true); });
    return call;
  }

  grpc::ServerUnaryReactor* UpdateBorrows(grpc::CallbackServerContext* /*ctx*/, const grpc::ByteBuffer* in,
                                          grpc::ByteBuffer* out) override {
    auto* call = new UnaryCall<rpc::UpdateBorrowsRequest, rpc::UpdateBorrowsReply>(out);
    if (!call->Parse(in, "UpdateBorrows")) return call;
    const rpc::UpdateBorrowsRequest* request = &call->request;
    if (Rejected(call, CheckBorrows(*request))) return call;
    std::vector<std::string> added(request->added().begin(), request->added().end());
    std::vector<std::string> removed(request->removed().begin(), request->removed().end());
    std::vector<std::string> lent(request->lent().begin(), request->lent().end());
    std::vector<std::string> lent_received(request->lent_received().begin(), request->lent_received().end());
    std::vector<std::string> lenders(request->lent_received_lenders().begin(), request->lent_received_lenders().end());
    const rpc::Address* lender =
        request->has_lender() && !request->lender().worker_id().empty() ? &request->lender() : nullptr;
    w_.references().UpdateBorrowers(request->borrower().worker_id(), added, removed, lent, lent_received,
                                    &request->borrower(), lender, lenders);
    call->Done(grpc::Status::OK);
    return call;
  }

  grpc::ServerUnaryReactor* AddObjectLocation(grpc::CallbackServerContext* /*ctx*/, const grpc::ByteBuffer* in,
                                              grpc::ByteBuffer* out) override {
    auto* call = new UnaryCall<rpc::AddObjectLocationRequest, rpc::AddObjectLocationReply>(out);
    if (!call->Parse(in, "AddObjectLocation")) return call;
    const rpc::AddObjectLocationRequest* request = &call->request;
    // A node now holds a copy of an object this process owns: listed in later
    // GetObject replies, probed before a recomputation, and freed there too.
    if (Rejected(call, CheckId(request->object_id(), "AddObjectLocationRequest.object_id", spec::kIdsObjectBytes) +
                           CheckId(request->node_id(), "AddObjectLocationRequest.node_id", spec::kIdsNodeBytes))) {
      return call;
    }
    w_.references().AddLocation(request->object_id(), request->node_id());
    call->Done(grpc::Status::OK);
    return call;
  }

  grpc::ServerUnaryReactor* CancelTask(grpc::CallbackServerContext* /*ctx*/, const grpc::ByteBuffer* in,
                                       grpc::ByteBuffer* out) override {
    auto* call = new UnaryCall<rpc::CancelTaskRequest, rpc::CancelTaskReply>(out);
    if (!call->Parse(in, "CancelTask")) return call;
    if (Rejected(call, CheckId(call->request.task_id(), "CancelTaskRequest.task_id", spec::kIdsTaskBytes))) {
      return call;
    }
    // cancel.h: a task this process owns (a borrower's cancel: forwarded to its
    // worker), else one it runs (recursive: its children too).
    try {
      call->reply.set_attempted(HandleCancel(w_, receiver_, call->request.task_id(), call->request.force(),
                                             call->request.recursive()));
    } catch (const std::invalid_argument& e) {  // force on an actor call this process made
      call->Done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, e.what()));
      return call;
    }
    call->Done(grpc::Status::OK);
    return call;
  }

  grpc::ServerUnaryReactor* GetObjectRefs(grpc::CallbackServerContext* /*ctx*/, const grpc::ByteBuffer* in,
                                          grpc::ByteBuffer* out) override {
    auto* call = new UnaryCall<rpc::GetObjectRefsRequest, rpc::GetObjectRefsReply>(out);
    if (!call->Parse(in, "GetObjectRefs")) return call;
    if (Rejected(call, CheckGetObjectRefs(call->request))) return call;
    FillObjectRefs(w_, call->request, &call->reply);
    call->Done(grpc::Status::OK);
    return call;
  }

  grpc::ServerUnaryReactor* Exit(grpc::CallbackServerContext* /*ctx*/, const grpc::ByteBuffer* in,
                                 grpc::ByteBuffer* out) override {
    auto* call = new UnaryCall<rpc::ExitRequest, rpc::ExitReply>(out);
    if (!call->Parse(in, "Exit")) return call;
    rpc::ExitReply* reply = &call->reply;
    if (receiver_ == nullptr) {
      reply->set_accepted(false);
      reply->set_reason("a driver does not exit on request");
      call->Done(grpc::Status::OK);
      return call;
    }
    if (!call->request.force()) {
      // The raylet's idle reaper: an owner of objects others still hold, or a
      // holder of borrowed ones, stays (docs/ownership.md, "Workers that own objects").
      std::string why = w_.references().WhyNotExit();
      if (!why.empty()) {
        reply->set_accepted(false);
        reply->set_reason("this worker " + why);
        call->Done(grpc::Status::OK);
        return call;
      }
    }
    reply->set_accepted(true);
    TaskReceiver* r = receiver_;
    CoreWorker* w = &w_;
    const bool force = call->request.force();
    // Off the gRPC thread. A forced exit (the GCS ending an actor: KillActor,
    // ExitActor(), __polyray_terminate__) is followed at once by the lease's return
    // with disconnect, i.e. the raylet's SIGTERM, which ends this process where it
    // stands: the task events buffered here (the actor's last calls) go to the GCS
    // before the reply (TaskEvents::Stop: at most 1 s for a send in flight, then
    // the rest). Then borrows returned but not yet told to their owners go out,
    // then the worker stops (after the reply went out).
    std::thread([w, r, call, force] {
      if (force && w->task_events() != nullptr) w->task_events()->Stop();
      call->Done(grpc::Status::OK);
      w->borrows().Flush(spec::kIdleExitAnswerMs / 2);
      w->scheduler().RunAfter(50, [r] { r->Stop(0); });
    }).detach();
    return call;
  }

 private:
  CoreWorker& w_;
  TaskReceiver* receiver_;
};

CoreWorkerServer::CoreWorkerServer(CoreWorker& w, TaskReceiver* receiver)
    : w_(w), service_(std::make_unique<Service>(w, receiver)) {}

CoreWorkerServer::~CoreWorkerServer() { Shutdown(); }

int CoreWorkerServer::Start(const std::string& host) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(host + ":0", AuthServerCredentials(), &port);  // mutual TLS when POLYRAY_USE_TLS
  // The spec's message limit, as every peer's (a value above it goes
  // through the store, never inline).
  builder.SetMaxReceiveMessageSize(static_cast<int>(spec::kRpcMaxMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(spec::kRpcMaxMessageBytes));
  builder.RegisterService(service_.get());
  // Every call: the cluster token, checked before any handler acts (auth.h).
  builder.experimental().SetInterceptorCreators(AuthServerInterceptors());
  // No SO_REUSEPORT: a port in use fails to bind rather than being shared.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    server_.reset();
    throw polyray::Error("cannot start the CoreWorkerService of worker " + ShortHex(w_.worker_id()) + " on " + host);
  }
  return port;
}

void CoreWorkerServer::Shutdown() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
}

}  // namespace polyray::core

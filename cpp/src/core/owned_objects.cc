// OwnedObjects of owned_objects.h.
#include "core/owned_objects.h"

#include "core/task_events.h"

#include "core/borrow_tracker.h"
#include "core/common.h"
#include "core/core_worker.h"
#include "core/ids.h"
#include "core/lineage.h"
#include "core/object_recovery.h"
#include "core/rpc_call.h"
#include "core/store_io.h"
#include "core/submit_policy.h"
#include "polyray/codec.h"
#include "polyray/exceptions.h"
#include "polyray/protocol/raylet.grpc.pb.h"

namespace polyray::core {
namespace {

std::vector<std::string> NestedIds(const internal::Encoded& value) {
  std::vector<std::string> ids;
  for (const auto& s : value.nested_refs) {
    rpc::ObjectRef r;
    if (r.ParseFromString(s)) ids.push_back(r.object_id());
  }
  return ids;
}

google::protobuf::RepeatedPtrField<rpc::ObjectRef> NestedRefs(const internal::Encoded& value) {
  google::protobuf::RepeatedPtrField<rpc::ObjectRef> out;
  for (const auto& s : value.nested_refs) out.Add()->ParseFromString(s);
  return out;
}

}  // namespace

OwnedObjects::OwnedObjects(CoreWorker& w) : w_(w) {
  pins_ = std::make_unique<StorePins>(
      [this](std::vector<std::string> ids, const rpc::Address& owner, StorePins::Done done) {
        rpc::PinObjectsRequest req;
        for (auto& id : ids) req.add_object_ids(std::move(id));
        *req.mutable_owner() = owner;
        auto stub = rpc::RayletService::NewStub(w_.channels().Get(w_.options().raylet_address));
        CallAsync<rpc::PinObjectsReply>(
            [&stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->PinObjects(ctx, rq, rp, std::move(cb)); },
            std::move(req), kRpcTimeout,
            [done = std::move(done)](const grpc::Status& st, rpc::PinObjectsReply& reply) {
              std::vector<bool> pinned(reply.pinned().begin(), reply.pinned().end());
              done(st.ok(), pinned);
            });
      },
      spec::kFanoutMaxPinsInFlight, spec::kFanoutMaxIdsPerPin);
}

internal::RefPtr OwnedObjects::Put(internal::Encoded value) {
  std::string oid = w_.NextPutId();
  w_.references().AddOwned(oid);
  internal::RefPtr ref = w_.OwnedRef(oid);
  StoreOwned(oid, value);
  return ref;
}

void OwnedObjects::StoreOwned(const std::string& oid, const internal::Encoded& value) {
  uint64_t size = internal::EncodedSize(value);
  std::vector<internal::RefPtr> nested = w_.HoldNested(NestedRefs(value));
  if (!policy::TravelsInline(size)) {
    PutInStore(oid, value, w_.address());
    w_.references().SetInStore(oid, w_.node_id());
    w_.memory_store().Set(oid, StoreEntry(w_.node_id(), size, std::move(nested)));
  } else {
    rpc::Envelope envelope;
    internal::ToEnvelope(value, &envelope);
    w_.memory_store().Set(oid, InlineEntry(std::move(envelope), size, std::move(nested)));
  }
  w_.references().SetContains(oid, NestedIds(value));
}

void OwnedObjects::PutInStore(const std::string& oid, const internal::Encoded& value,
                              const rpc::Address& owner, bool wait) {
  try {
    w_.store().WriteSealed(oid, value);
  } catch (const polyray::StoreFullError& e) {
    throw polyray::ObjectStoreFullError("the value of object " + Hex(oid) + " (" +
                                        std::to_string(internal::EncodedSize(value)) + " bytes) does not fit in the node's store " +
                                        w_.store().name() + ": " + e.what());
  } catch (const polyray::StoreError& e) {
    throw polyray::Error("cannot write object " + Hex(oid) + " into the node's store " + w_.store().name() +
                         ": " + e.what());
  }
  std::shared_ptr<polyray::ObjectView> pin = w_.store().Pin(oid, 5000);
  if (!wait) {
    pins_->Add(oid, std::move(pin), owner);
    return;
  }
  if (!pins_->AddAndWait(oid, std::move(pin), owner)) {
    throw polyray::Error("the raylet at " + w_.options().raylet_address + " did not pin object " + Hex(oid) +
                         " in store " + w_.store().name());
  }
}

bool OwnedObjects::RecordReturn(rpc::ReturnObject& r) {
  const std::string& oid = r.object_id();
  bool in_store = r.kind_case() == rpc::ReturnObject::kInStoreNode;
  if (!w_.references().IsOwned(oid)) {
    // Every reference to this return is gone already: drop it.
    if (in_store && !r.in_store_node().empty()) w_.borrows().OnFree(oid, {r.in_store_node()});
    if (r.nested_refs_size() > 0) w_.references().AckReturned(r.nested_refs(), w_.worker_id(), r.lender());
    return false;
  }
  std::vector<internal::RefPtr> nested = w_.HoldNested(r.nested_refs());
  // Our own holds are taken (their adds decided first): release the lends (reference protocol).
  if (r.nested_refs_size() > 0) w_.references().AckReturned(r.nested_refs(), w_.worker_id(), r.lender());
  if (in_store) {
    w_.references().SetInStore(oid, r.in_store_node());
    w_.memory_store().Set(oid, StoreEntry(r.in_store_node(), r.size(), std::move(nested)));
    return true;
  }
  w_.memory_store().Set(oid, InlineEntry(std::move(*r.mutable_value()), r.size(), std::move(nested)));
  return false;
}

void OwnedObjects::CompleteTask(const rpc::TaskSpec& spec, rpc::TaskResult& result,
                                const std::vector<std::string>& arg_ids) {
  std::vector<std::string> stored;
  bool failed = false;
  for (rpc::ReturnObject& r : *result.mutable_returns()) {
    failed = failed || (r.has_value() && r.value().format() == rpc::FORMAT_ERROR);
    if (RecordReturn(r)) stored.push_back(r.object_id());
  }
  if (spec.generator() != 0) w_.generators().Finish(spec.task_id(), failed);  // after its end object is set
  w_.recovery().OnFinished(spec, nullptr);
  if (!stored.empty() && spec.type() == rpc::NORMAL_TASK && w_.lineage().max_bytes() > 0) {
    w_.lineage().Record(spec, arg_ids, stored);  // keeps the spec; takes over the arguments' pins
  } else {
    w_.references().RemoveSubmitted(arg_ids);
  }
}

void OwnedObjects::GeneratorItem(const rpc::TaskSpec& spec, rpc::TaskResult& result) {
  if (result.returns_size() != 1) return;
  rpc::ReturnObject& r = *result.mutable_returns(0);
  const size_t k = static_cast<size_t>(result.generator_item()) - 1;  // 0-based
  const bool repeat = w_.generators().Repeat(spec.task_id(), k);
  if (repeat && w_.references().IsOwned(r.object_id())) {
    // A retried attempt's repeat of an item a ref still holds: the first copy stays (the
    // retry's store copy on this node is that copy: WriteSealed kept it); let go of the lends.
    if (r.nested_refs_size() > 0) w_.references().AckReturned(r.nested_refs(), w_.worker_id(), r.lender());
    return;
  }
  internal::RefPtr ref;
  if (!repeat && r.object_id() == ReturnId(spec.task_id(), result.generator_item() + 1) &&
      w_.generators().Wants(spec.task_id())) {
    w_.references().AddOwned(r.object_id());
    ref = w_.OwnedRef(r.object_id());
  }
  RecordReturn(r);  // not wanted (or a repeat nobody holds): not owned, so freed (and what it holds let go)
  if (ref) w_.generators().Add(spec.task_id(), k, std::move(ref));  // dropped meanwhile: released, freed
}

void OwnedObjects::Retried(const rpc::TaskSpec& spec) {
  if (TaskEvents* ev = w_.task_events()) {
    ev->OwnerDone(spec.task_id());
    ev->Record(rpc::PENDING_NODE, spec);
  }
}

void OwnedObjects::FailTask(const rpc::TaskSpec& spec, const rpc::ErrorRecord& record,
                            const std::vector<std::string>& arg_ids) {
  if (TaskEvents* ev = w_.task_events()) {
    ev->OwnerDone(spec.task_id());
    ev->Failed(spec, record);  // with the owner's times: the row of a task that never ran
  }
  std::optional<rpc::ErrorRecord> lost = w_.recovery().OnFinished(spec, &record);  // a failed reconstruction
  EntryPtr error = ErrorEntry(lost ? *lost : record);
  for (int i = 1; i <= spec.num_returns(); ++i) {
    std::string oid = ReturnId(spec.task_id(), i);
    if (w_.references().IsOwned(oid)) w_.memory_store().Set(oid, error);
  }
  w_.references().RemoveSubmitted(arg_ids);
  if (spec.generator() != 0) w_.generators().Finish(spec.task_id(), true);
}

void OwnedObjects::ReleaseArgs(const std::vector<std::string>& arg_ids) { w_.references().RemoveSubmitted(arg_ids); }

void OwnedObjects::HoldArgs(const std::vector<std::string>& arg_ids) { w_.references().AddSubmitted(arg_ids); }

}  // namespace polyray::core

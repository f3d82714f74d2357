// BorrowTracker of borrow_tracker.h.
#include "core/borrow_tracker.h"

#include <map>

#include "core/common.h"
#include "core/core_worker.h"
#include "core/node_directory.h"
#include "core/rpc_call.h"
#include "polyray/protocol/core_worker.grpc.pb.h"
#include "polyray/protocol/raylet.grpc.pb.h"

namespace polyray::core {

void BorrowTracker::OnFree(const std::string& oid, const std::vector<std::string>& nodes) {
  w_.memory_store().Delete(oid);
  if (nodes.empty() || w_.shutting_down()) return;
  bool schedule;
  {
    std::lock_guard<std::mutex> lock(mu_);
    schedule = pending_free_.empty();
    for (const auto& n : nodes) pending_free_.emplace_back(oid, n);
  }
  if (schedule) w_.scheduler().RunAfter(10, [this] { FlushFrees(); });
}

void BorrowTracker::FlushFrees() {
  std::vector<std::pair<std::string, std::string>> frees;
  {
    std::lock_guard<std::mutex> lock(mu_);
    frees.swap(pending_free_);
  }
  if (frees.empty() || w_.shutting_down()) return;
  std::map<std::string, std::vector<std::string>> by_node;
  for (auto& [oid, node] : frees) by_node[node].push_back(std::move(oid));
  for (auto& [node, ids] : by_node) {
    if (node == w_.node_id()) {
      SendFree(w_.options().raylet_address, std::move(ids));
      continue;
    }
    w_.nodes().LookupAsync(node, [this, ids = std::move(ids)](const NodeDirectory::Found& found) mutable {
      // A node that is gone took its copies with it.
      if (found.raylet && !w_.shutting_down()) SendFree(Target(*found.raylet), std::move(ids));
    });
  }
}

void BorrowTracker::SendFree(const std::string& target, std::vector<std::string> oids) {
  rpc::FreeObjectsRequest req;
  for (auto& id : oids) req.add_object_ids(std::move(id));
  auto stub = rpc::RayletService::NewStub(w_.channels().Get(target));
  CallAsync<rpc::FreeObjectsReply>(
      [&stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->FreeObjects(ctx, rq, rp, std::move(cb)); },
      std::move(req), kRpcTimeout, IgnoreReply<rpc::FreeObjectsReply>());
}

void BorrowTracker::FreeNow(const std::vector<std::pair<std::string, std::string>>& copies) {
  std::map<std::string, rpc::FreeObjectsRequest> by_node;
  for (const auto& [oid, node] : copies) by_node[node].add_object_ids(oid);
  for (const auto& [node, req] : by_node) {
    std::string target = w_.options().raylet_address;
    if (node != w_.node_id()) {
      NodeDirectory::Found found = w_.nodes().Lookup(node);
      if (!found.raylet) continue;  // gone, with its copies
      target = Target(*found.raylet);
    }
    auto stub = rpc::RayletService::NewStub(w_.channels().Get(target));
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(std::chrono::seconds(5)));
    rpc::FreeObjectsReply reply;
    stub->FreeObjects(&ctx, req, &reply);  // best effort: the node may be gone
  }
}

void BorrowTracker::OnBorrowChanged(const rpc::Address& owner, std::vector<std::string> added,
                                    std::vector<std::string> removed) {
  for (const auto& oid : removed) w_.memory_store().Delete(oid);  // nothing here refers to it any more
  if (w_.shutting_down()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Batch& b = pending_borrows_[owner.worker_id()];
    b.owner = owner;
    for (auto& a : added) b.added.push_back(std::move(a));
    for (auto& r : removed) b.removed.push_back(std::move(r));
    if (borrow_flush_scheduled_) return;
    borrow_flush_scheduled_ = true;
  }
  w_.scheduler().RunAfter(0, [this] { SendBorrows(); });
}

void BorrowTracker::SendBorrows() {
  std::map<std::string, Batch> batches;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batches.swap(pending_borrows_);
    borrow_flush_scheduled_ = false;
    borrow_calls_ += static_cast<int>(batches.size());
  }
  for (auto& [id, b] : batches) {
    rpc::UpdateBorrowsRequest req;
    *req.mutable_borrower() = w_.address();
    for (auto& a : b.added) req.add_added(std::move(a));
    for (auto& r : b.removed) req.add_removed(std::move(r));
    auto stub = rpc::CoreWorkerService::NewStub(w_.channels().Get(b.owner));
    CallAsync<rpc::UpdateBorrowsReply>(
        [&stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->UpdateBorrows(ctx, rq, rp, std::move(cb)); },
        std::move(req), kRpcTimeout, [this](const grpc::Status&, rpc::UpdateBorrowsReply&) {
          // An owner that does not answer is gone: nothing to keep alive there.
          std::lock_guard<std::mutex> lock(mu_);
          borrow_calls_--;
          cv_.notify_all();
        });
  }
}

void BorrowTracker::Lend(const google::protobuf::RepeatedPtrField<rpc::ObjectRef>& nested) {
  std::vector<std::string> owned;
  for (const auto& r : nested) {
    if (IsWorker(r.owner(), w_.worker_id())) owned.push_back(r.object_id());
  }
  if (!owned.empty()) w_.references().AddLent(owned);
}

bool BorrowTracker::HasPending() {
  std::lock_guard<std::mutex> lock(mu_);
  return borrow_flush_scheduled_ || !pending_borrows_.empty() || borrow_calls_ > 0;
}

void BorrowTracker::Flush(int64_t timeout_ms) {
  SendBorrows();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] {
    return borrow_calls_ == 0 && pending_borrows_.empty();
  });
}

}  // namespace polyray::core

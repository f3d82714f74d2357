// BorrowTracker of borrow_tracker.h.
#include "core/borrow_tracker.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/common.h"
#include "core/core_worker.h"
#include "core/node_directory.h"
#include "core/rpc_call.h"
#include "polyray/protocol/core_worker.grpc.pb.h"
#include "polyray/protocol/raylet.grpc.pb.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {

namespace {
// Test hook (tests/chaos/test_lender_death.py; docs/ownership.md, Deaths): with
// POLYRAY_TEST_KILL_AFTER_LEND=1 this process SIGKILLs itself as soon as an
// owner answered a lend it made for a caller: the lend landed, the task's
// result cannot leave. Never set outside tests.
bool KillAfterLend() {
  static const bool on = [] {
    const char* v = std::getenv("POLYRAY_TEST_KILL_AFTER_LEND");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return on;
}
}  // namespace

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
  Decide(owner, nullptr, std::move(added), {}, std::move(removed), {});
}

void BorrowTracker::OnLentReceived(const rpc::Address& owner, std::vector<std::string> oids,
                                   const std::string& lender) {
  Decide(owner, nullptr, {}, {}, {}, std::move(oids), lender);
}

void BorrowQueue::Append(std::deque<Item>& q, Kind kind, std::vector<std::string>& oids, const std::string& lender) {
  for (auto& oid : oids) {
    int64_t s = ++seq_;
    q.push_back(Item{s, kind, std::move(oid), kind == kAcked ? lender : std::string()});
    if (kind == kAdded || kind == kLent) unacked_.push(s);
  }
}

void BorrowQueue::Decide(const Key& key, std::vector<std::string> added, std::vector<std::string> lent,
                         std::vector<std::string> removed, std::vector<std::string> acked,
                         const std::string& lender) {
  auto& q = queues_[key];
  Append(q, kAdded, added);
  Append(q, kLent, lent);
  Append(q, kRemoved, removed);
  Append(q, kAcked, acked, lender);
  if (q.empty()) queues_.erase(key);
}

int64_t BorrowQueue::OldestUnacked() {
  while (!unacked_.empty() && acked_.erase(unacked_.top()) > 0) unacked_.pop();
  return unacked_.empty() ? INT64_MAX : unacked_.top();
}

std::vector<BorrowQueue::Key> BorrowQueue::Waiting() const {
  std::vector<Key> out;
  for (const auto& [key, q] : queues_) {
    if (!q.empty() && !busy_.count(key)) out.push_back(key);
  }
  return out;
}

bool BorrowQueue::Take(const Key& key, rpc::UpdateBorrowsRequest* req, std::vector<int64_t>* seqs) {
  auto it = queues_.find(key);
  if (it == queues_.end() || it->second.empty() || busy_.count(key)) return false;
  auto& q = it->second;
  auto holds = [](const Item& i) { return i.kind == kAdded || i.kind == kLent; };
  if (holds(q.front())) {
    // Holds go at once: they only keep things alive.
    while (!q.empty() && holds(q.front())) {
      Item& i = q.front();
      seqs->push_back(i.seq);
      if (i.kind == kAdded) {
        req->add_added(std::move(i.oid));
      } else {
        req->add_lent(std::move(i.oid));
      }
      q.pop_front();
    }
  } else {
    int64_t oldest = OldestUnacked();
    int n = 0;
    while (!q.empty() && !holds(q.front()) && q.front().seq < oldest) {
      Item& i = q.front();
      if (i.kind == kRemoved) {
        req->add_removed(std::move(i.oid));
      } else {
        req->add_lent_received(std::move(i.oid));
        req->add_lent_received_lenders(std::move(i.lender));
      }
      q.pop_front();
      n++;
    }
    if (n == 0) return false;  // an earlier hold is still on its way to some owner
  }
  if (q.empty()) queues_.erase(it);
  busy_.insert(key);
  return true;
}

void BorrowQueue::Answered(const Key& key, const std::vector<int64_t>& seqs) {
  busy_.erase(key);
  acked_.insert(seqs.begin(), seqs.end());
}

void BorrowTracker::Decide(const rpc::Address& owner, const rpc::Address* borrower, std::vector<std::string> added,
                           std::vector<std::string> lent, std::vector<std::string> removed,
                           std::vector<std::string> acked, const std::string& lender) {
  if (w_.shutting_down()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Key key{owner.worker_id(), borrower ? borrower->worker_id() : std::string()};
    owners_[key] = owner;
    if (borrower) borrowers_[key] = *borrower;
    queue_.Decide(key, std::move(added), std::move(lent), std::move(removed), std::move(acked), lender);
    if (borrow_flush_scheduled_) return;
    borrow_flush_scheduled_ = true;
  }
  w_.scheduler().RunAfter(0, [this] { SendBorrows(); });
}

bool BorrowTracker::Idle() const { return queue_.Idle() && !borrow_flush_scheduled_; }

void BorrowTracker::SendBorrows() {
  struct Call {
    Key key;
    rpc::Address owner;
    rpc::UpdateBorrowsRequest req;
    std::vector<int64_t> seqs;
  };
  std::vector<Call> calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    borrow_flush_scheduled_ = false;
    for (const auto& key : queue_.Waiting()) {
      if (borrow_calls_ >= spec::kFanoutMaxBorrowUpdatesInFlight) break;
      Call c;
      if (!queue_.Take(key, &c.req, &c.seqs)) continue;
      auto b = borrowers_.find(key);
      *c.req.mutable_borrower() = b != borrowers_.end() ? b->second : w_.address();
      if (c.req.lent_size() > 0) *c.req.mutable_lender() = w_.address();  // this process lends
      c.key = key;
      c.owner = owners_[key];
      borrow_calls_++;
      max_in_flight_ = std::max(max_in_flight_, borrow_calls_);
      calls.push_back(std::move(c));
    }
    if (calls.empty() && Idle()) cv_.notify_all();
  }
  for (auto& c : calls) {
    const bool lends = c.req.lent_size() > 0;
    auto stub = rpc::CoreWorkerService::NewStub(w_.channels().Get(c.owner));
    CallAsync<rpc::UpdateBorrowsReply>(
        [&stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->UpdateBorrows(ctx, rq, rp, std::move(cb)); },
        std::move(c.req), kRpcTimeout,
        [this, key = c.key, seqs = std::move(c.seqs), lends](const grpc::Status& status, rpc::UpdateBorrowsReply&) {
          if (lends && status.ok() && KillAfterLend()) ::kill(::getpid(), SIGKILL);
          // An owner that does not answer is gone: nothing to keep alive there.
          {
            std::lock_guard<std::mutex> lock(mu_);
            borrow_calls_--;
            queue_.Answered(key, seqs);
            if (!queue_.HasQueued(key)) {
              owners_.erase(key);
              borrowers_.erase(key);
            }
            cv_.notify_all();
          }
          if (!w_.shutting_down()) w_.scheduler().RunAfter(0, [this] { SendBorrows(); });
        });
  }
}

void BorrowTracker::Lend(const google::protobuf::RepeatedPtrField<rpc::ObjectRef>& nested,
                         const rpc::Address* caller) {
  std::vector<std::string> owned;
  std::vector<std::pair<rpc::Address, std::vector<std::string>>> others;
  for (const auto& r : nested) {
    if (IsWorker(r.owner(), w_.worker_id())) {
      owned.push_back(r.object_id());
    } else if (caller) {
      auto it = std::find_if(others.begin(), others.end(),
                             [&r](const auto& o) { return o.first.worker_id() == r.owner().worker_id(); });
      if (it == others.end()) {
        others.emplace_back(r.owner(), std::vector<std::string>{});
        it = others.end() - 1;
      }
      it->second.push_back(r.object_id());
    }
  }
  if (!owned.empty()) w_.references().AddLent(owned, caller ? caller->worker_id() : std::string(), caller);
  for (auto& [owner, oids] : others) Decide(owner, caller, {}, std::move(oids), {}, {});
}

int BorrowTracker::max_in_flight() {
  std::lock_guard<std::mutex> lock(mu_);
  return max_in_flight_;
}

bool BorrowTracker::HasPending() {
  std::lock_guard<std::mutex> lock(mu_);
  return !Idle();
}

void BorrowTracker::Flush(int64_t timeout_ms) {
  SendBorrows();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return Idle(); });
}

}  // namespace polyray::core

// The reference traffic of a CoreWorker: batched FreeObjects of owned store
// copies to the raylets of the nodes holding them (the primary copy's and
// every node a copy was pulled to) and batched UpdateBorrows to owners.
//
// Invariants: frees are sent at most 10 ms after the last reference went
// away (those of another node once its raylet's address is known; a node
// the GCS does not list alive has taken its copies with it). Borrow updates
// follow the reference protocol (docs/ownership.md; the rules of
// python/polyray/core/borrow_tracker.py): one call open per owner, in the
// order they were decided; at most max_borrow_updates_in_flight calls across
// owners; a removal (or an acknowledgement of a lend) is sent only once every
// hold (added, lent) decided before it was answered. Flush() returns once the
// updates made so far have been answered (or failed, or timed out): a worker
// calls it before replying to the task that handed it the references, so no
// owner frees an object a borrower still holds.
#ifndef POLYRAY_CORE_BORROW_TRACKER_H_
#define POLYRAY_CORE_BORROW_TRACKER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <queue>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/core_worker.pb.h"

namespace polyray::core {

class CoreWorker;

/// Borrow updates decided and not yet sent, per (owner, borrower), with the
/// order rule; no I/O (the BorrowTracker's, and unit-tested alone). The key's
/// borrower is "" for this process's own updates and the caller's worker id
/// for lends made on its behalf. Not thread-safe: the tracker guards it.
class BorrowQueue {
 public:
  /// (owner worker id, borrower worker id or "").
  using Key = std::pair<std::string, std::string>;
  /// Queues updates; each gets a sequence number in decision order.
  /// `lender`: the executor whose return carried `acked` (its worker id).
  void Decide(const Key& key, std::vector<std::string> added, std::vector<std::string> lent,
              std::vector<std::string> removed, std::vector<std::string> acked, const std::string& lender = "");
  /// The next call for `key` (its added / lent / removed / lent_received /
  /// lent_received_lenders fields) and the sequence numbers of its holds; false when the key has a
  /// call open, nothing queued, or its next update lets go and an earlier
  /// hold is unanswered.
  bool Take(const Key& key, rpc::UpdateBorrowsRequest* req, std::vector<int64_t>* seqs);
  /// A call for `key` was answered (or its owner found gone).
  void Answered(const Key& key, const std::vector<int64_t>& seqs);
  bool HasQueued(const Key& key) const { return queues_.count(key) > 0; }
  /// Keys with updates queued and no call open.
  std::vector<Key> Waiting() const;
  /// Nothing queued and no call open.
  bool Idle() const { return queues_.empty() && busy_.empty(); }

 private:
  enum Kind { kAdded, kLent, kRemoved, kAcked };
  struct Item {
    int64_t seq;
    Kind kind;
    std::string oid;
    std::string lender;  // an acknowledgement's lender
  };
  void Append(std::deque<Item>& q, Kind kind, std::vector<std::string>& oids, const std::string& lender = "");
  int64_t OldestUnacked();

  std::map<Key, std::deque<Item>> queues_;
  std::set<Key> busy_;
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<int64_t>> unacked_;  // holds not answered
  std::set<int64_t> acked_;  // answered seqs still in unacked_ (lazy deletion)
  int64_t seq_ = 0;
};

/// Batches frees and borrow updates; see the file comment.
class BorrowTracker {
 public:
  explicit BorrowTracker(CoreWorker& w) : w_(w) {}

  /// An owned object's counts reached zero; `nodes` hold its store copies.
  void OnFree(const std::string& oid, const std::vector<std::string>& nodes);
  /// A borrowed object got its first / lost its last local reference.
  void OnBorrowChanged(const rpc::Address& owner, std::vector<std::string> added,
                       std::vector<std::string> removed);
  /// This process acknowledges lends of refs it received in a task's return
  /// from `lender` (the executor's worker id; "" not known).
  void OnLentReceived(const rpc::Address& owner, std::vector<std::string> oids, const std::string& lender = "");
  /// Refs leave inside a return value to `caller`: each is held on its behalf
  /// until it acknowledges (owned ones here, others by a lend to their owner,
  /// sent before the result). `caller` null: a caller that does not
  /// acknowledge; owned refs stay alive until it registers as a borrower.
  void Lend(const google::protobuf::RepeatedPtrField<rpc::ObjectRef>& nested, const rpc::Address* caller = nullptr);
  /// The most UpdateBorrows calls ever open at once (for tests).
  int max_in_flight();
  /// Whether borrow updates are queued or on their way.
  bool HasPending();
  /// Sends queued borrow updates and waits up to `timeout_ms` for answers.
  void Flush(int64_t timeout_ms);
  /// Frees the (oid, node) copies now at their nodes' raylets, waiting for
  /// the answers (shutdown; bounded).
  void FreeNow(const std::vector<std::pair<std::string, std::string>>& copies);

 private:
  using Key = BorrowQueue::Key;
  void FlushFrees();
  /// Sends one FreeObjects to the raylet at `target` (asynchronous).
  void SendFree(const std::string& target, std::vector<std::string> oids);
  void Decide(const rpc::Address& owner, const rpc::Address* borrower, std::vector<std::string> added,
              std::vector<std::string> lent, std::vector<std::string> removed, std::vector<std::string> acked,
              const std::string& lender = "");
  bool Idle() const;
  void SendBorrows();

  CoreWorker& w_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::string>> pending_free_;  // (oid, node)
  BorrowQueue queue_;  // updates not yet sent or answered (guarded by mu_)
  std::map<Key, rpc::Address> owners_;
  std::map<Key, rpc::Address> borrowers_;  // lends made on a caller's behalf
  bool borrow_flush_scheduled_ = false;
  int borrow_calls_ = 0;
  int max_in_flight_ = 0;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_BORROW_TRACKER_H_

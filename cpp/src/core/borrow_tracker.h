// The reference traffic of a CoreWorker: batched FreeObjects of owned store
// copies to the raylets of the nodes holding them (the primary copy's and
// every node a copy was pulled to) and batched UpdateBorrows to owners.
//
// Invariants: frees are sent at most 10 ms after the last reference went
// away (those of another node once its raylet's address is known; a node
// the GCS does not list alive has taken its copies with it); borrow updates of one owner go out in one message per flush, in the
// order they happened; Flush() returns once the updates made so far have
// been answered (or failed, or timed out): a worker calls it before replying
// to the task that handed it the references, so no owner frees an object a
// borrower still holds.
#ifndef POLYRAY_CORE_BORROW_TRACKER_H_
#define POLYRAY_CORE_BORROW_TRACKER_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "polyray/protocol/common.pb.h"

namespace polyray::core {

class CoreWorker;

/// Batches frees and borrow updates; see the file comment.
class BorrowTracker {
 public:
  explicit BorrowTracker(CoreWorker& w) : w_(w) {}

  /// An owned object's counts reached zero; `nodes` hold its store copies.
  void OnFree(const std::string& oid, const std::vector<std::string>& nodes);
  /// A borrowed object got its first / lost its last local reference.
  void OnBorrowChanged(const rpc::Address& owner, std::vector<std::string> added,
                       std::vector<std::string> removed);
  /// Owned references leave inside a return value: they stay alive until the
  /// caller registers as their borrower.
  void Lend(const google::protobuf::RepeatedPtrField<rpc::ObjectRef>& nested);
  /// Whether borrow updates are queued or on their way.
  bool HasPending();
  /// Sends queued borrow updates and waits up to `timeout_ms` for answers.
  void Flush(int64_t timeout_ms);
  /// Frees the (oid, node) copies now at their nodes' raylets, waiting for
  /// the answers (shutdown; bounded).
  void FreeNow(const std::vector<std::pair<std::string, std::string>>& copies);

 private:
  struct Batch {
    rpc::Address owner;
    std::vector<std::string> added;
    std::vector<std::string> removed;
  };
  void FlushFrees();
  /// Sends one FreeObjects to the raylet at `target` (asynchronous).
  void SendFree(const std::string& target, std::vector<std::string> oids);
  void SendBorrows();

  CoreWorker& w_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::string>> pending_free_;  // (oid, node)
  std::map<std::string, Batch> pending_borrows_;  // by owner worker id
  bool borrow_flush_scheduled_ = false;
  int borrow_calls_ = 0;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_BORROW_TRACKER_H_

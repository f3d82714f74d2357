// The reference traffic of a CoreWorker: batched FreeObjects of owned store
// copies to the raylet and batched UpdateBorrows to owners.
//
// Invariants: frees are sent at most 10 ms after the last reference went
// away; borrow updates of one owner go out in one message per flush, in the
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
#include <vector>

#include "polyray/protocol/common.pb.h"

namespace polyray::core {

class CoreWorker;

/// Batches frees and borrow updates; see the file comment.
class BorrowTracker {
 public:
  explicit BorrowTracker(CoreWorker& w) : w_(w) {}

  /// An owned object's counts reached zero.
  void OnFree(const std::string& oid, const std::string& in_store_node);
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
  /// Frees `oids` at the raylet now, waiting for the answer (shutdown).
  void FreeNow(const std::vector<std::string>& oids);

 private:
  struct Batch {
    rpc::Address owner;
    std::vector<std::string> added;
    std::vector<std::string> removed;
  };
  void FlushFrees();
  void SendBorrows();

  CoreWorker& w_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> pending_free_;
  std::map<std::string, Batch> pending_borrows_;  // by owner worker id
  bool borrow_flush_scheduled_ = false;
  int borrow_calls_ = 0;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_BORROW_TRACKER_H_

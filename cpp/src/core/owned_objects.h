// The objects a CoreWorker owns: values it puts, arguments too large to
// inline, and the results (or errors) of the tasks it submitted.
//
// Invariants: a value that does not travel inline (policy::TravelsInline) is written to the node's store and
// pinned by the raylet for its owner before its reference is handed out (a
// pin of our own covers the gap, so it cannot be evicted in between); a
// task's returns are completed once, by its result or by its failure, and
// the arguments it held are released then.
#ifndef POLYRAY_CORE_OWNED_OBJECTS_H_
#define POLYRAY_CORE_OWNED_OBJECTS_H_

#include <string>
#include <vector>

#include "core/task_finisher.h"
#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/core_worker.pb.h"

namespace polyray::core {

class CoreWorker;

/// Owned objects; see the file comment. The submitters' TaskFinisher.
class OwnedObjects final : public TaskFinisher {
 public:
  explicit OwnedObjects(CoreWorker& w) : w_(w) {}

  /// Stores a value owned by this process; one local reference.
  internal::RefPtr Put(internal::Encoded value);
  /// Records an owned object's value: inline, or written to the store.
  void StoreOwned(const std::string& oid, const internal::Encoded& value);
  /// Writes `value` into the node's store under `oid` and has the raylet pin
  /// it for `owner`. Throws polyray::ObjectStoreFullError / polyray::Error.
  void PutInStore(const std::string& oid, const internal::Encoded& value, const rpc::Address& owner);
  /// Records a task's results (inline values are moved out of `result`).
  void CompleteTask(const rpc::TaskSpec& spec, rpc::TaskResult& result,
                    const std::vector<std::string>& arg_ids) override;
  /// Completes every return of a task with an error.
  void FailTask(const rpc::TaskSpec& spec, const rpc::ErrorRecord& record,
                const std::vector<std::string>& arg_ids) override;
  /// Releases arguments counted as submitted (RemoveSubmitted).
  void ReleaseArgs(const std::vector<std::string>& arg_ids) override;

 private:
  CoreWorker& w_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_OWNED_OBJECTS_H_

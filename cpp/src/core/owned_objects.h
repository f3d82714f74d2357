// The objects a CoreWorker owns: values it puts, arguments too large to
// inline, and the results (or errors) of the tasks it submitted.
//
// Invariants: a value that does not travel inline (policy::TravelsInline) is written to the node's store and
// sealed before its reference is handed out, and a pin of our own holds it
// until the raylet has pinned it for its owner (StorePins: puts do not wait
// for the raylet, a task's stored returns do), so it cannot be evicted in between; a
// task's returns are completed once, by its result or by its failure, and
// the arguments it held are released then.
#ifndef POLYRAY_CORE_OWNED_OBJECTS_H_
#define POLYRAY_CORE_OWNED_OBJECTS_H_

#include <memory>
#include <string>
#include <vector>

#include "core/store_pins.h"
#include "core/task_finisher.h"
#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/core_worker.pb.h"

namespace polyray::core {

class CoreWorker;

/// Owned objects; see the file comment. The submitters' TaskFinisher.
class OwnedObjects final : public TaskFinisher {
 public:
  explicit OwnedObjects(CoreWorker& w);

  /// Stores a value owned by this process; one local reference.
  internal::RefPtr Put(internal::Encoded value);
  /// Records an owned object's value: inline, or written to the store.
  void StoreOwned(const std::string& oid, const internal::Encoded& value);
  /// Writes `value` into the node's store under `oid` and queues the raylet's
  /// pin of it for `owner` (StorePins); with `wait`, returns once the raylet
  /// answered. Throws polyray::ObjectStoreFullError / polyray::Error.
  void PutInStore(const std::string& oid, const internal::Encoded& value, const rpc::Address& owner,
                  bool wait = false);
  /// The raylet's pins of this process's stored objects.
  StorePins& pins() { return *pins_; }
  /// Records a task's results (inline values are moved out of `result`).
  void CompleteTask(const rpc::TaskSpec& spec, rpc::TaskResult& result,
                    const std::vector<std::string>& arg_ids) override;
  /// Completes every return of a task with an error.
  void FailTask(const rpc::TaskSpec& spec, const rpc::ErrorRecord& record,
                const std::vector<std::string>& arg_ids) override;
  /// Releases arguments counted as submitted (RemoveSubmitted).
  void ReleaseArgs(const std::vector<std::string>& arg_ids) override;
  void HoldArgs(const std::vector<std::string>& arg_ids) override;
  /// Task events: PENDING_NODE for the retried task's new attempt.
  void Retried(const rpc::TaskSpec& spec) override;
  /// A generator task's item: owned here and handed to its stream while the
  /// stream wants it, else freed (generator_streams.h).
  void GeneratorItem(const rpc::TaskSpec& spec, rpc::TaskResult& result) override;

 private:
  /// Records one return of a task (dropped when nothing references it);
  /// true when its value is in a store.
  bool RecordReturn(rpc::ReturnObject& r);

  CoreWorker& w_;
  std::unique_ptr<StorePins> pins_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_OWNED_OBJECTS_H_

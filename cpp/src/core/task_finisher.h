// Where the submitters report how a task ended: its owner's side (the
// results become objects, the arguments it held are released). Production
// is OwnedObjects (owned_objects.h); unit tests record the calls.
//
// Invariants: for every submitted task exactly one of CompleteTask or
// FailTask is called, once, and never with a submitter's lock held (both
// wake user threads waiting in Get).
#ifndef POLYRAY_CORE_TASK_FINISHER_H_
#define POLYRAY_CORE_TASK_FINISHER_H_

#include <string>
#include <vector>

#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/core_worker.pb.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {

/// A task's owner, as the submitters see it; see the file comment.
class TaskFinisher {
 public:
  virtual ~TaskFinisher() = default;
  /// Records a task's results (inline values may be moved out of `result`)
  /// and releases `arg_ids`.
  virtual void CompleteTask(const rpc::TaskSpec& spec, rpc::TaskResult& result,
                            const std::vector<std::string>& arg_ids) = 0;
  /// Completes every return of a task with `record` and releases `arg_ids`.
  virtual void FailTask(const rpc::TaskSpec& spec, const rpc::ErrorRecord& record,
                        const std::vector<std::string>& arg_ids) = 0;
  /// Releases argument references held for a task that ends elsewhere (an
  /// actor's creation arguments, once the actor is up or dead).
  virtual void ReleaseArgs(const std::vector<std::string>& arg_ids) = 0;
  /// Counts a task's arguments once more (its executor died: kArgsGraceMs);
  /// each hold is let go of by one ReleaseArgs.
  virtual void HoldArgs(const std::vector<std::string>& arg_ids) = 0;
  /// The task goes back to its queue as attempt `spec.attempt()` (a retry):
  /// task events record PENDING_NODE for the new attempt. May run under the
  /// submitter's lock: it must not call back into the submitter.
  virtual void Retried(const rpc::TaskSpec& spec) { (void)spec; }
  /// Item `result.generator_item()` of generator task `spec` arrived, before
  /// its final result (generator_streams.h); the task stays in flight.
  virtual void GeneratorItem(const rpc::TaskSpec& spec, rpc::TaskResult& result) {
    (void)spec;
    (void)result;
  }

  /// How long a caller keeps a task's arguments after the task's executor
  /// died running it (crash, broken stream, dead node), beyond the failure or
  /// retry: the executor may have handed an argument on (a child task, a value
  /// another process read) whose holder's "added" is still on its way to the
  /// owner. The grace an owner's BorrowerWatch gives a dead borrower: two
  /// borrowers.death_watch_ms rounds (docs/ownership.md, Deaths).
  static constexpr int64_t kArgsGraceMs = 2 * spec::kBorrowersDeathWatchMs;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_TASK_FINISHER_H_

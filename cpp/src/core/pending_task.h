// A submitted task and the objects its arguments reference.
//
// Invariants: a PendingTask is in exactly one place at a time (a submitter's
// queue, one lease's or actor's in-flight table, or finished); `arg_ids` are
// released (RemoveSubmitted) exactly once, when the task completes or fails.
#ifndef POLYRAY_CORE_PENDING_TASK_H_
#define POLYRAY_CORE_PENDING_TASK_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "polyray/protocol/common.pb.h"

namespace polyray::core {

/// A task on its way; see the file comment.
struct PendingTask {
  rpc::TaskSpec spec;
  std::vector<std::string> arg_ids;
  /// The scheduling class (normal tasks).
  std::string key;
  /// When it was last pushed (its run time feeds the lease's average, which
  /// decides pipelining: submit_policy.h).
  std::chrono::steady_clock::time_point pushed_at;
  /// cancel() reached it while it was on a worker: no retry; a forced one
  /// whose worker ends fails with TASK_CANCELLED (normal tasks).
  bool cancelled = false;
};
using PendingTaskPtr = std::shared_ptr<PendingTask>;

}  // namespace polyray::core

#endif  // POLYRAY_CORE_PENDING_TASK_H_

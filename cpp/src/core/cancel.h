// A CancelTask request as a C++ CoreWorker answers it (Ray's cancel; the
// same decision as the Python CoreWorkerService.CancelTask):
//
// * a task this process submitted (it owns the returns; the request comes
//   from a borrower of a return, which asks the owner): a queued one is
//   dropped and fails with TASK_CANCELLED; one on a worker gets the request
//   forwarded (force and recursive kept) to that worker;
// * else a task this process runs (a worker): with `recursive`, the normal
//   tasks the task submitted are cancelled too (recursively, at their
//   workers); then the receiver cancels the task itself (task_receiver.h:
//   a queued one never runs, a running one sees IsCanceled(), force ends
//   the process). A non-forced cancel marks the task before its children,
//   so a parent waiting on a child ends with TASK_CANCELLED, not with its
//   child's error; a forced one cancels the children first (the process
//   ends with the parent).
//
// Not done: actor calls this process made are not cancelled through it
// (a forwarded cancel of one is answered "not attempted").
#ifndef POLYRAY_CORE_CANCEL_H_
#define POLYRAY_CORE_CANCEL_H_

#include <string>

namespace polyray::core {

class CoreWorker;
class TaskReceiver;

/// Answers CancelTask(task_id, force, recursive); `receiver` is null in a
/// driver. Returns the reply's `attempted`. Never blocks on the network.
bool HandleCancel(CoreWorker& w, TaskReceiver* receiver, const std::string& task_id, bool force, bool recursive);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_CANCEL_H_

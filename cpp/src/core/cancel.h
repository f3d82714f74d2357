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
// * an actor call this process made: one not sent yet is dropped and fails
//   with TASK_CANCELLED; one sent gets CancelTask (recursive kept) at the
//   actor; force is refused (std::invalid_argument; INVALID_ARGUMENT on the
//   wire), as Python's ValueError and Ray.
//
// CancelRef is the public polyray::Cancel (api.h): a ref this process owns is
// cancelled here; a borrowed one's CancelTask goes to its owner.
#ifndef POLYRAY_CORE_CANCEL_H_
#define POLYRAY_CORE_CANCEL_H_

#include <string>

namespace polyray::core {

class CoreWorker;
class TaskReceiver;

/// Answers CancelTask(task_id, force, recursive); `receiver` is null in a
/// driver. Returns the reply's `attempted`. Never blocks on the network.
/// Throws std::invalid_argument for a forced cancel of an actor call this process made.
bool HandleCancel(CoreWorker& w, TaskReceiver* receiver, const std::string& task_id, bool force, bool recursive);

/// polyray::Cancel of the task that returns `serialized_ref` (a polyray.rpc.ObjectRef):
/// owned here, as HandleCancel's owner part; borrowed, CancelTask to its owner (waits
/// for the reply, up to 10 s; an owner that is gone is ignored: its objects fail anyway).
/// Throws std::invalid_argument for force on an actor call (here or at the owner).
void CancelRef(CoreWorker& w, const std::string& serialized_ref, bool force, bool recursive);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_CANCEL_H_

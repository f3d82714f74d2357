// Checks on what enters a C++ process (docs/fault-tolerance.md, "Bad input"):
// the same checks as Python's polyray.protocol.validation and Java's
// io.polyray.runtime.worker.Validation, against the runtime spec's [ids]
// sizes and [limits]. A failure names the field:
// "TaskSpec.task_id: 3 bytes, expected 24".
#ifndef POLYRAY_CORE_VALIDATION_H_
#define POLYRAY_CORE_VALIDATION_H_

#include <string>

#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/core_worker.pb.h"

namespace polyray::core {

/// "" when `spec` is sound, else what is wrong, naming the field.
std::string CheckTaskSpec(const rpc::TaskSpec& spec);

/// Whether an error result can be sent for `spec` (its return ids can be made).
bool TaskAddressable(const rpc::TaskSpec& spec);

/// "" when the request's task count is within the limit.
std::string CheckPush(const rpc::PushTasksRequest& request);

/// "" when `value` is `size` bytes (or empty and `optional`).
std::string CheckId(const std::string& value, const std::string& field, size_t size, bool optional = false);

/// An UpdateBorrowsRequest: the borrower's worker id and every object id.
std::string CheckBorrows(const rpc::UpdateBorrowsRequest& request);

/// A GetObjectRefs request (the state API): the page token is empty or an object id.
std::string CheckGetObjectRefs(const rpc::GetObjectRefsRequest& request);

/// The error result of a task that failed its check (TaskAddressable holds):
/// every return a RUNTIME_ERROR naming the field.
rpc::TaskResult InvalidTaskResult(const rpc::TaskSpec& spec, const std::string& problem, const std::string& worker);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_VALIDATION_H_

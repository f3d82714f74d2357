#include "core/validation.h"

#include <cmath>
#include <cstdint>

#include "polyray/runtime_spec.h"

namespace polyray::core {
namespace {

using namespace polyray::spec;  // NOLINT: the spec's constants

std::string Name(const std::string& value, const std::string& field) {
  if (value.size() > static_cast<size_t>(kLimitsMaxNameBytes)) {
    return field + ": " + std::to_string(value.size()) + " bytes, at most " + std::to_string(kLimitsMaxNameBytes);
  }
  return "";
}

std::string Count(int n, const std::string& field, int64_t limit) {
  if (n > limit) return field + ": " + std::to_string(n) + " entries, at most " + std::to_string(limit);
  return "";
}

std::string Address(const rpc::Address& a, const std::string& field) {
  std::string e;
  if (!(e = CheckId(a.node_id(), field + ".node_id", kIdsNodeBytes, true)).empty()) return e;
  if (!(e = CheckId(a.worker_id(), field + ".worker_id", kIdsWorkerBytes, true)).empty()) return e;
  if (!(e = Name(a.host(), field + ".host")).empty()) return e;
  if (a.port() < 0 || a.port() > 65535) return field + ".port: " + std::to_string(a.port()) + " is not a port";
  if (a.push_port() < 0 || a.push_port() > 65535) {
    return field + ".push_port: " + std::to_string(a.push_port()) + " is not a port";
  }
  return "";
}

std::string Ref(const rpc::ObjectRef& r, const std::string& field) {
  std::string e = CheckId(r.object_id(), field + ".object_id", kIdsObjectBytes);
  if (!e.empty()) return e;
  return Address(r.owner(), field + ".owner");
}

std::string Arg(const rpc::TaskArg& a, const std::string& field) {
  std::string e;
  switch (a.kind_case()) {
    case rpc::TaskArg::kValue:
      if (!rpc::Format_IsValid(a.value().format())) {
        return field + ".value.format: unknown Format value " + std::to_string(a.value().format());
      }
      if (!(e = Count(a.value().buffers_size(), field + ".value.buffers", kLimitsMaxListEntries)).empty()) return e;
      break;
    case rpc::TaskArg::kRef:
      if (!(e = Ref(a.ref(), field + ".ref")).empty()) return e;
      break;
    default:
      return field + ": neither a value nor a ref";
  }
  if (!(e = Count(a.nested_refs_size(), field + ".nested_refs", kLimitsMaxNestedRefs)).empty()) return e;
  for (int i = 0; i < a.nested_refs_size(); i++) {
    if (!(e = Ref(a.nested_refs(i), field + ".nested_refs[" + std::to_string(i) + "]")).empty()) return e;
  }
  return "";
}

std::string Retries(int v, const std::string& field) {
  if (v < -1) return field + ": " + std::to_string(v) + ", expected >= -1 (-1 = forever)";
  return "";
}

}  // namespace

std::string CheckId(const std::string& value, const std::string& field, size_t size, bool optional) {
  if (value.size() != size && !(optional && value.empty())) {
    return field + ": " + std::to_string(value.size()) + " bytes, expected " + std::to_string(size);
  }
  return "";
}

bool TaskAddressable(const rpc::TaskSpec& spec) {
  return spec.task_id().size() == static_cast<size_t>(kIdsTaskBytes) && spec.num_returns() >= 0 &&
         spec.num_returns() <= kLimitsMaxNumReturns;
}

std::string CheckTaskSpec(const rpc::TaskSpec& spec) {
  const std::string f = "TaskSpec";
  std::string e;
  if (!(e = CheckId(spec.task_id(), f + ".task_id", kIdsTaskBytes)).empty()) return e;
  if (spec.num_returns() < 0 || spec.num_returns() > kLimitsMaxNumReturns) {
    return f + ".num_returns: " + std::to_string(spec.num_returns()) + ", expected 0.." +
           std::to_string(kLimitsMaxNumReturns);
  }
  if (!rpc::TaskType_IsValid(spec.type())) return f + ".type: unknown TaskType value " + std::to_string(spec.type());
  if (!rpc::Language_IsValid(spec.language())) {
    return f + ".language: unknown Language value " + std::to_string(spec.language());
  }
  if (!rpc::Language_IsValid(spec.caller_language())) {
    return f + ".caller_language: unknown Language value " + std::to_string(spec.caller_language());
  }
  if (!(e = CheckId(spec.job_id(), f + ".job_id", kIdsJobBytes)).empty()) return e;
  if (!(e = CheckId(spec.parent_task_id(), f + ".parent_task_id", kIdsTaskBytes, true)).empty()) return e;
  const rpc::FunctionDescriptor& fn = spec.function();
  switch (fn.kind_case()) {
    case rpc::FunctionDescriptor::kPython:
      if (!(e = Name(fn.python().module(), f + ".function.python.module")).empty()) return e;
      if (!(e = Name(fn.python().qualname(), f + ".function.python.qualname")).empty()) return e;
      break;
    case rpc::FunctionDescriptor::kJava:
      if (!(e = Name(fn.java().class_name(), f + ".function.java.class_name")).empty()) return e;
      if (!(e = Name(fn.java().method_name(), f + ".function.java.method_name")).empty()) return e;
      if (!(e = Name(fn.java().signature(), f + ".function.java.signature")).empty()) return e;
      break;
    case rpc::FunctionDescriptor::kCpp:
      if (!(e = Name(fn.cpp().function_name(), f + ".function.cpp.function_name")).empty()) return e;
      if (!(e = Name(fn.cpp().class_name(), f + ".function.cpp.class_name")).empty()) return e;
      break;
    default:
      return f + ".function: not set";
  }
  if (!(e = Address(spec.caller(), f + ".caller")).empty()) return e;
  int64_t n_args = static_cast<int64_t>(spec.args_size()) + spec.kwargs_size();
  if (n_args > kLimitsMaxArgs) {
    return f + ".args: " + std::to_string(n_args) + " arguments, at most " + std::to_string(kLimitsMaxArgs);
  }
  for (int i = 0; i < spec.args_size(); i++) {
    if (!(e = Arg(spec.args(i), f + ".args[" + std::to_string(i) + "]")).empty()) return e;
  }
  for (int i = 0; i < spec.kwargs_size(); i++) {
    const std::string kf = f + ".kwargs[" + std::to_string(i) + "]";
    if (!(e = Name(spec.kwargs(i).name(), kf + ".name")).empty()) return e;
    if (!(e = Arg(spec.kwargs(i).arg(), kf + ".arg")).empty()) return e;
  }
  if (!(e = Count(spec.resources_size(), f + ".resources", kLimitsMaxListEntries)).empty()) return e;
  for (const auto& [name, amount] : spec.resources()) {
    if (!(e = Name(name, f + ".resources key")).empty()) return e;
    if (!std::isfinite(amount) || amount < 0) {
      return f + ".resources['" + name + "']: '" + name + "' must not be negative or infinite, got " +
             std::to_string(amount);
    }
  }
  const rpc::SchedulingStrategy& s = spec.scheduling();
  if (!rpc::SchedulingKind_IsValid(s.kind())) {
    return f + ".scheduling.kind: unknown SchedulingKind value " + std::to_string(s.kind());
  }
  if (!(e = CheckId(s.node_id(), f + ".scheduling.node_id", kIdsNodeBytes, true)).empty()) return e;
  if (!(e = CheckId(s.placement_group_id(), f + ".scheduling.placement_group_id", kIdsPlacementGroupBytes, true))
           .empty()) {
    return e;
  }
  if (!(e = Retries(spec.max_retries(), f + ".max_retries")).empty()) return e;
  if (!(e = Retries(spec.max_restarts(), f + ".max_restarts")).empty()) return e;
  if (!(e = Retries(spec.max_task_retries(), f + ".max_task_retries")).empty()) return e;
  if (spec.attempt() < 0) return f + ".attempt: " + std::to_string(spec.attempt()) + ", expected >= 0";
  if (spec.max_concurrency() < 0) {
    return f + ".max_concurrency: " + std::to_string(spec.max_concurrency()) + ", expected >= 0";
  }
  if (!(e = Name(spec.name(), f + ".name")).empty()) return e;
  if (!(e = Name(spec.actor_name(), f + ".actor_name")).empty()) return e;
  if (!(e = Name(spec.actor_namespace(), f + ".actor_namespace")).empty()) return e;
  if (!(e = CheckId(spec.actor_id(), f + ".actor_id", kIdsActorBytes, spec.type() == rpc::NORMAL_TASK)).empty()) {
    return e;
  }
  if (!(e = CheckId(spec.caller_worker_id(), f + ".caller_worker_id", kIdsWorkerBytes, true)).empty()) return e;
  if (!(e = Count(spec.code_search_path_size(), f + ".code_search_path", kLimitsMaxListEntries)).empty()) return e;
  for (int i = 0; i < spec.code_search_path_size(); i++) {
    if (!(e = Name(spec.code_search_path(i), f + ".code_search_path[" + std::to_string(i) + "]")).empty()) return e;
  }
  return "";
}

std::string CheckPush(const rpc::PushTasksRequest& request) {
  return Count(request.tasks_size(), "PushTasksRequest.tasks", kLimitsMaxTasksPerPush);
}

std::string CheckGetObjectRefs(const rpc::GetObjectRefsRequest& r) {
  return CheckId(r.page_token(), "GetObjectRefsRequest.page_token", kIdsObjectBytes, true);
}

std::string CheckBorrows(const rpc::UpdateBorrowsRequest& r) {
  std::string e;
  if (!(e = Address(r.borrower(), "UpdateBorrowsRequest.borrower")).empty()) return e;
  if (!(e = CheckId(r.borrower().worker_id(), "UpdateBorrowsRequest.borrower.worker_id", kIdsWorkerBytes)).empty()) {
    return e;
  }
  if (!(e = Count(r.added_size(), "UpdateBorrowsRequest.added", kLimitsMaxListEntries)).empty()) return e;
  if (!(e = Count(r.removed_size(), "UpdateBorrowsRequest.removed", kLimitsMaxListEntries)).empty()) return e;
  for (int i = 0; i < r.added_size(); i++) {
    if (!(e = CheckId(r.added(i), "UpdateBorrowsRequest.added[" + std::to_string(i) + "]", kIdsObjectBytes)).empty()) {
      return e;
    }
  }
  for (int i = 0; i < r.removed_size(); i++) {
    if (!(e = CheckId(r.removed(i), "UpdateBorrowsRequest.removed[" + std::to_string(i) + "]", kIdsObjectBytes))
             .empty()) {
      return e;
    }
  }
  // The lender of `lent` and of each acknowledgement (docs/ownership.md, Deaths): worker ids or empty.
  if (r.has_lender() && !(e = Address(r.lender(), "UpdateBorrowsRequest.lender")).empty()) return e;
  if (!(e = Count(r.lent_received_lenders_size(), "UpdateBorrowsRequest.lent_received_lenders",
                  kLimitsMaxListEntries))
           .empty()) {
    return e;
  }
  for (int i = 0; i < r.lent_received_lenders_size(); i++) {
    if (!(e = CheckId(r.lent_received_lenders(i),
                      "UpdateBorrowsRequest.lent_received_lenders[" + std::to_string(i) + "]", kIdsWorkerBytes, true))
             .empty()) {
      return e;
    }
  }
  return "";
}

rpc::TaskResult InvalidTaskResult(const rpc::TaskSpec& spec, const std::string& problem, const std::string& worker) {
  rpc::ErrorRecord rec;
  rec.set_kind(rpc::RUNTIME_ERROR);
  rec.set_type_name("InvalidArgument");
  rec.set_language(rpc::CPP);
  rec.set_message("the task was rejected by worker " + worker + ": " + problem);
  rpc::Envelope env;
  env.set_format(rpc::FORMAT_ERROR);
  env.set_body(rec.SerializeAsString());
  int n = spec.num_returns();
  if (spec.type() == rpc::ACTOR_CREATION_TASK && n < 1) n = 1;
  rpc::TaskResult result;
  result.set_task_id(spec.task_id());
  for (int i = 1; i <= n; i++) {
    rpc::ReturnObject* r = result.add_returns();
    std::string oid = spec.task_id();
    uint32_t idx = static_cast<uint32_t>(i);
    for (int b = 0; b < 4; b++) oid.push_back(static_cast<char>((idx >> (8 * b)) & 0xff));
    r->set_object_id(oid);
    *r->mutable_value() = env;
  }
  return result;
}

}  // namespace polyray::core

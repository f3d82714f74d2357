// TaskSubmission of task_submission.h.
#include "core/task_submission.h"

#include "core/task_events.h"

#include <map>
#include <memory>
#include <stdexcept>

#include "core/actor_handles.h"
#include "core/actor_task_submitter.h"
#include "core/common.h"
#include "core/core_worker.h"
#include "core/ids.h"
#include "core/normal_task_submitter.h"
#include "core/owned_objects.h"
#include "core/pending_task.h"
#include "core/scheduling.h"
#include "core/task_context.h"
#include "core/submit_policy.h"
#include "polyray/codec.h"
#include "polyray/exceptions.h"
#include "polyray/protocol/gcs.grpc.pb.h"

namespace polyray::core {
namespace {

const char* LanguageName(Language l) {
  switch (l) {
    case Language::kPython: return "Python";
    case Language::kJava: return "Java";
    default: return "C++";
  }
}

std::string SimpleName(const std::string& binary_name) {
  size_t i = binary_name.find_last_of(".$");
  return i == std::string::npos ? binary_name : binary_name.substr(i + 1);
}

void SetResources(rpc::TaskSpec& spec, const internal::CallOptions& o, double default_cpus) {
  auto& out = *spec.mutable_resources();
  if (o.resources.find("CPU") == o.resources.end() && default_cpus > 0) out["CPU"] = default_cpus;
  // A task's explicit CPU 0 travels as CPU: 0: the raylet adds Ray's default 1 CPU only
  // when a normal task names no CPU amount, so such a task needs no CPU at all.
  for (const auto& [name, amount] : o.resources) {
    if (amount > 0 || (default_cpus > 0 && name == "CPU")) out[name] = amount;
  }
}

// The strategy of `options` into `spec` (SetResources first): a request no
// bundle of its placement group holds is refused here, before anything is sent.
void SetScheduling(rpc::TaskSpec& spec, const internal::CallOptions& o, const std::string& what) {
  std::map<std::string, double> resources(spec.resources().begin(), spec.resources().end());
  std::string problem = CheckFitsBundle(o.scheduling, resources, what);
  if (!problem.empty()) throw std::invalid_argument(problem);
  *spec.mutable_scheduling() = StrategyOf(o.scheduling, CurrentTaskSpec(), ActorCreationSpec());
}

rpc::ActorHandle ParseHandle(const internal::ActorPtr& actor) {
  if (!actor) throw polyray::Error("an empty actor handle was used");
  rpc::ActorHandle h;
  if (!h.ParseFromString(actor->serialized)) throw polyray::Error("a malformed actor handle was used");
  return h;
}

}  // namespace

rpc::FunctionDescriptor TaskSubmission::Descriptor(const internal::FunctionDescriptor& f) {
  rpc::FunctionDescriptor fd;
  switch (f.language) {
    case Language::kPython:
      fd.mutable_python()->set_module(f.first);
      fd.mutable_python()->set_qualname(f.second);
      break;
    case Language::kJava:
      fd.mutable_java()->set_class_name(f.first);
      fd.mutable_java()->set_method_name(f.second);
      fd.mutable_java()->set_signature(f.signature);
      break;
    default:
      fd.mutable_cpp()->set_function_name(f.first);
      fd.mutable_cpp()->set_class_name(f.second);
      break;
  }
  return fd;
}

std::string TaskSubmission::DisplayName(const internal::FunctionDescriptor& f) {
  switch (f.language) {
    case Language::kPython: return f.first.empty() ? f.second : f.first + "." + f.second;
    case Language::kJava: return SimpleName(f.first) + "." + f.second;
    default: return f.first;
  }
}

rpc::TaskSpec TaskSubmission::NewSpec(rpc::TaskType type, rpc::Language language, rpc::FunctionDescriptor function,
                                      const std::string& name) {
  if (w_.shutting_down()) throw polyray::Error("the polyray runtime is shut down");
  rpc::TaskSpec spec;
  spec.set_type(type);
  spec.set_language(language);
  *spec.mutable_function() = std::move(function);
  spec.set_job_id(w_.job_id());
  spec.set_task_id(NewTaskId(w_.job_id()));
  spec.set_parent_task_id(w_.CurrentTaskId());
  *spec.mutable_caller() = w_.address();
  spec.set_caller_language(rpc::CPP);  // results come back as XLANG
  spec.set_name(name);
  for (const auto& p : w_.options().code_search_path) spec.add_code_search_path(p);
  spec.set_runtime_env(w_.options().runtime_env);
  return spec;
}

std::vector<std::string> TaskSubmission::SubmitArgs(rpc::TaskSpec& spec, std::vector<internal::TaskArg>& args) {
  std::vector<internal::RefPtr> held;  // put arguments, alive until they count as submitted
  std::vector<std::string> ids;
  spec.mutable_args()->Reserve(static_cast<int>(args.size()));
  for (internal::TaskArg& a : args) {
    rpc::TaskArg* arg = spec.add_args();
    if (a.ref) {
      ids.push_back(a.ref->object_id);
      if (!arg->mutable_ref()->ParseFromString(a.ref->serialized)) {
        throw polyray::Error("a malformed ObjectRef was passed as an argument of " + spec.name());
      }
      continue;
    }
    AddHandleRefs(a.value);  // actor handles in the value are held like refs (actor_handles.h)
    if (!policy::TravelsInline(internal::EncodedSize(a.value))) {
      std::string oid = w_.NextPutId();
      w_.references().AddOwned(oid);
      held.push_back(w_.OwnedRef(oid));  // reachable until the task counts it as submitted
      w_.owned().StoreOwned(oid, a.value);
      ids.push_back(oid);
      *arg->mutable_ref() = w_.OwnedRefMessage(oid);
      continue;
    }
    for (const std::string& s : a.value.nested_refs) {
      rpc::ObjectRef* r = arg->add_nested_refs();
      r->ParseFromString(s);
      ids.push_back(r->object_id());
    }
    internal::ToEnvelope(std::move(a.value), arg->mutable_value());
  }
  w_.references().AddSubmitted(ids);
  return ids;
}

void TaskSubmission::CheckGenerator(rpc::TaskSpec& spec, const internal::CallOptions& options) {
  if (options.generator == 0) return;
  if (options.generator != kGeneratorStreaming) {
    throw std::invalid_argument("generator " + std::to_string(options.generator) + " of " + spec.name() +
                                ": C++ callers ask for streaming generators only (2)");
  }
  // As Python's callers: the stream's end is the one return; a retry's repeated items are
  // dropped by GeneratorStreams (max_retries / max_task_retries as for other calls).
  spec.set_generator(kGeneratorStreaming);
  spec.set_num_returns(1);
}

std::vector<internal::RefPtr> TaskSubmission::ReturnRefs(const rpc::TaskSpec& spec) {
  std::vector<internal::RefPtr> refs;
  refs.reserve(spec.num_returns());
  for (int i = 1; i <= spec.num_returns(); ++i) {
    std::string oid = ReturnId(spec.task_id(), i);
    w_.references().AddOwned(oid);
    refs.push_back(w_.OwnedRef(oid));
  }
  return refs;
}

std::vector<internal::RefPtr> TaskSubmission::SubmitTask(const internal::FunctionDescriptor& function,
                                                         std::vector<internal::TaskArg> args,
                                                         const internal::CallOptions& options) {
  std::string name = options.name.empty() ? DisplayName(function) : options.name;
  rpc::TaskSpec spec = NewSpec(rpc::NORMAL_TASK, static_cast<rpc::Language>(function.language), Descriptor(function), name);
  spec.set_num_returns(options.num_returns < 0 ? 1 : options.num_returns);
  SetResources(spec, options, 1.0);
  SetScheduling(spec, options, "task " + name);
  spec.set_max_retries(options.max_retries == -2 ? static_cast<int>(spec::kRetryMaxRetries) : options.max_retries);
  spec.set_retry_exceptions(options.retry_exceptions);
  CheckGenerator(spec, options);
  std::vector<std::string> arg_ids = SubmitArgs(spec, args);
  std::vector<internal::RefPtr> refs = ReturnRefs(spec);
  if (spec.generator() != 0) w_.generators().Open(spec.task_id());  // before its first item can come
  if (TaskEvents* ev = w_.task_events()) {
    ev->OwnerQueued(spec, TaskEvents::NowNs());  // queued for a lease at once: its times in the spec
  }
  auto task = std::make_shared<PendingTask>();
  task->spec = std::move(spec);
  task->arg_ids = std::move(arg_ids);
  w_.submitter().Submit(std::move(task));
  return refs;
}

internal::ActorPtr TaskSubmission::CreateActor(const internal::FunctionDescriptor& creation,
                                               std::vector<internal::TaskArg> args,
                                               const internal::CallOptions& options) {
  // A named actor made in a worker lands in its job's namespace (task_context.h).
  std::string ns = !options.ray_namespace.empty() ? options.ray_namespace
                   : options.name.empty()         ? w_.options().ray_namespace
                                                  : JobNamespace();
  if (options.detached && options.name.empty()) {
    throw polyray::Error("a detached actor must have a name (CallOptions.name)");
  }
  // A named actor made without SetDetached takes the job's default (Config::default_actor_lifetime).
  bool detached = options.detached;
  if (!options.detached_set && !options.name.empty()) detached = JobDefaultActorLifetime() == "detached";
  std::string display = DisplayName(creation);
  if (creation.language == Language::kPython) display = creation.second + ".__init__";
  std::string actor_id = NewActorId(w_.job_id());
  rpc::TaskSpec spec = NewSpec(rpc::ACTOR_CREATION_TASK, static_cast<rpc::Language>(creation.language),
                               Descriptor(creation), display);
  spec.set_actor_id(actor_id);
  spec.set_num_returns(0);
  SetResources(spec, options, 0);
  SetScheduling(spec, options, "actor " + display);
  spec.set_max_restarts(options.max_restarts);
  spec.set_max_task_retries(options.max_task_retries);
  spec.set_max_concurrency(options.max_concurrency);
  for (const auto& [group, n] : options.concurrency_groups) (*spec.mutable_concurrency_groups())[group] = n;
  spec.set_actor_name(options.name);
  spec.set_actor_namespace(ns);
  spec.set_detached(detached);
  std::vector<std::string> arg_ids = SubmitArgs(spec, args);
  if (TaskEvents* ev = w_.task_events()) ev->Record(rpc::SUBMITTED, spec);
  rpc::RegisterActorRequest req;
  *req.mutable_creation_task() = spec;
  rpc::RegisterActorReply reply;
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(kRpcTimeout));
  auto stub = rpc::GcsService::NewStub(w_.channels().Get(w_.options().gcs_address));
  grpc::Status st = stub->RegisterActor(&ctx, req, &reply);
  if (!st.ok()) {
    w_.references().RemoveSubmitted(arg_ids);
    if (st.error_code() == grpc::StatusCode::ALREADY_EXISTS || st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
      throw polyray::Error(st.error_message());
    }
    throw polyray::Error("the GCS at " + w_.options().gcs_address + " did not register actor " + display + ": " +
                         st.error_message());
  }
  rpc::ActorHandle handle;
  handle.set_actor_id(actor_id);
  handle.set_language(spec.language());
  *handle.mutable_class_descriptor() = spec.function();
  *handle.mutable_owner() = w_.address();
  handle.set_name(options.name);
  handle.set_namespace_(ns);
  handle.set_max_task_retries(spec.max_task_retries());
  handle.set_detached(detached);
  w_.actor_submitter().WatchCreation(actor_id, std::move(arg_ids));
  // This process owns the actor: its handles count as refs to the pseudo-object (actor_handles.h).
  if (Counted(handle)) w_.references().AddOwned(HandleObjectId(actor_id));
  return w_.MakeActor(handle, internal::SerializeDeterministic(handle));
}

std::vector<internal::RefPtr> TaskSubmission::SubmitActorTask(const internal::ActorPtr& actor,
                                                              const internal::FunctionDescriptor& method,
                                                              std::vector<internal::TaskArg> args,
                                                              const internal::CallOptions& options) {
  rpc::ActorHandle h = ParseHandle(actor);
  Language language = static_cast<Language>(h.language());
  if (method.language != language) {
    throw polyray::Error("actor " + Hex(h.actor_id()) + " is a " + LanguageName(language) + " actor; " +
                         DisplayName(method) + " is a " + LanguageName(method.language) + " method");
  }
  const rpc::FunctionDescriptor& cls = h.class_descriptor();
  rpc::FunctionDescriptor fd;
  std::string name;
  switch (language) {
    case Language::kPython: {
      fd.mutable_python()->set_module(cls.python().module());
      fd.mutable_python()->set_qualname(cls.python().qualname() + "." + method.first);
      name = fd.python().qualname();
      break;
    }
    case Language::kCpp: {
      const std::string& cpp_class = cls.cpp().class_name();
      // Methods are registered as "Class::Method"; "Method" means that too.
      std::string fn = method.first.find("::") != std::string::npos ? method.first : cpp_class + "::" + method.first;
      fd.mutable_cpp()->set_function_name(fn);
      fd.mutable_cpp()->set_class_name(cpp_class);
      name = fn;
      break;
    }
    default: {
      const std::string& cls_name = cls.java().class_name();
      fd.mutable_java()->set_class_name(cls_name);
      fd.mutable_java()->set_method_name(method.first);
      fd.mutable_java()->set_signature(method.signature);
      name = SimpleName(cls_name) + "." + method.first;
      break;
    }
  }
  if (!options.name.empty()) name = options.name;
  rpc::TaskSpec spec = NewSpec(rpc::ACTOR_TASK, h.language(), std::move(fd), name);
  spec.set_actor_id(h.actor_id());
  spec.set_num_returns(options.num_returns < 0 ? 1 : options.num_returns);
  spec.set_max_retries(0);
  // Retries of a call in flight when the actor dies: this call's option, else the actor's.
  spec.set_max_task_retries(options.max_task_retries_set ? options.max_task_retries : h.max_task_retries());
  spec.set_concurrency_group(options.concurrency_group);
  spec.set_caller_worker_id(w_.worker_id());
  CheckGenerator(spec, options);
  std::vector<std::string> arg_ids = SubmitArgs(spec, args);
  if (Counted(h)) {
    // The call holds the handle like an argument: calls made before the last handle went run first.
    std::string hid = HandleObjectId(h.actor_id());
    w_.references().AddSubmitted({hid});
    arg_ids.push_back(std::move(hid));
  }
  std::vector<internal::RefPtr> refs = ReturnRefs(spec);
  if (spec.generator() != 0) w_.generators().Open(spec.task_id());  // before its first item can come
  auto task = std::make_shared<PendingTask>();
  task->arg_ids = std::move(arg_ids);
  {
    // Numbered and queued under one lock: calls reach the submitter in sequence order.
    std::lock_guard<std::mutex> lock(seq_mu_);
    spec.set_sequence_no(++actor_seq_[h.actor_id()]);
    if (TaskEvents* ev = w_.task_events()) {
      ev->OwnerQueued(spec, TaskEvents::NowNs());  // queued for its actor at once: its times in the spec
    }
    task->spec = std::move(spec);
    w_.actor_submitter().Submit(std::move(task));
  }
  return refs;
}

internal::ActorPtr TaskSubmission::GetActor(const std::string& name, const std::string& ray_namespace) {
  std::string ns = ray_namespace.empty() ? JobNamespace() : ray_namespace;  // a worker's: its job's
  rpc::GetNamedActorRequest req;
  req.set_name(name);
  req.set_namespace_(ns);
  rpc::GetNamedActorReply reply;
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(kRpcTimeout));
  auto stub = rpc::GcsService::NewStub(w_.channels().Get(w_.options().gcs_address));
  grpc::Status st = stub->GetNamedActor(&ctx, req, &reply);
  if (!st.ok()) {
    throw polyray::Error("the GCS at " + w_.options().gcs_address + " did not answer GetNamedActor(" + name +
                         "): " + st.error_message());
  }
  if (!reply.found() || reply.actor().state() == rpc::DEAD) {
    throw polyray::Error("there is no live actor named \"" + name + "\" in namespace \"" + ns + "\"");
  }
  rpc::ActorHandle handle = reply.actor().handle();
  handle.set_detached(true);  // as Ray: a handle looked up by name does not keep the actor alive
  return w_.MakeActor(handle, internal::SerializeDeterministic(handle));
}

void TaskSubmission::KillActor(const internal::ActorPtr& actor, bool no_restart) {
  rpc::ActorHandle h = ParseHandle(actor);
  rpc::KillActorRequest req;
  req.set_actor_id(h.actor_id());
  req.set_no_restart(no_restart);
  rpc::KillActorReply reply;
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(kRpcTimeout));
  auto stub = rpc::GcsService::NewStub(w_.channels().Get(w_.options().gcs_address));
  grpc::Status st = stub->KillActor(&ctx, req, &reply);
  if (st.error_code() == grpc::StatusCode::NOT_FOUND) throw polyray::Error("no actor " + Hex(h.actor_id()));
  if (!st.ok()) {
    throw polyray::Error("the GCS at " + w_.options().gcs_address + " did not kill actor " + Hex(h.actor_id()) +
                         ": " + st.error_message());
  }
}

}  // namespace polyray::core

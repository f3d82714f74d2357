// The C++ worker's task executor (rules in function_executor.h).
//
// Invariants: every path out of Execute goes through Guarded(), which turns
// any exception into an error record; the actor table's mutex is never held
// while user code runs.
#include "api/function_executor.h"

#include <cxxabi.h>

#include <exception>
#include <utility>
#include <vector>

#include "polyray/codec.h"
#include "polyray/internal/errors.h"
#include "polyray/object_ref.h"
#include "polyray/protocol/common.pb.h"

namespace polyray {
namespace internal {
namespace {

constexpr size_t kMaxNamesListed = 30;

/// The invocation names no usable callable (unknown, duplicate, wrong kind):
/// reported with type polyray::Error rather than polyray::TypeError.
class LookupError : public InvocationError {
 public:
  using InvocationError::InvocationError;
};

/// Where a failing call ran, for the error's traceback.
struct CallSite {
  std::string name;
  std::string library;
  std::string Traceback() const {
    if (name.empty()) return "";
    return "  in C++ function " + name + (library.empty() ? "" : " (" + library + ")");
  }
};

/// The type of the exception being handled (inside a catch block).
std::string CurrentExceptionTypeName() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  return type != nullptr ? Demangle(type->name()) : "unknown exception";
}

/// A system error record of kind ACTOR_DIED (language CPP).
std::string ActorDiedRecord(const std::string& message) {
  rpc::ErrorRecord record;
  record.set_kind(rpc::ACTOR_DIED);
  record.set_type_name("ActorDiedError");
  record.set_message(message);
  record.set_language(rpc::CPP);
  std::string out;
  record.SerializeToString(&out);
  return out;
}

/// Runs `body`; any exception becomes the outcome's error record.
template <typename Body>
TaskOutcome Guarded(CallSite* site, Body&& body) {
  TaskOutcome outcome;
  try {
    outcome = body();
  } catch (const LookupError& e) {
    outcome = TaskOutcome();
    outcome.error_record = MakeRuntimeErrorRecord("polyray::Error", e.what());
  } catch (const InvocationError& e) {
    outcome = TaskOutcome();
    outcome.error_record = MakeRuntimeErrorRecord("polyray::TypeError", e.what());
  } catch (const std::exception& e) {
    outcome = TaskOutcome();
    outcome.error_record = ErrorRecordOfException(e, site->Traceback());
  } catch (...) {
    outcome = TaskOutcome();
    outcome.error_record =
        MakeCppErrorRecord(CurrentExceptionTypeName(),
                           "an exception that is not a std::exception was thrown",
                           site->Traceback(), "");
  }
  return outcome;
}

/// `count` nil results (what an actor creation returns).
std::vector<Encoded> NilReturns(int count) {
  std::vector<Encoded> out;
  for (int i = 0; i < count; ++i) out.push_back(Encode<std::nullptr_t>(nullptr));
  return out;
}

/// The one result of a C++ callable as `num_returns` returns.
std::vector<Encoded> Returns(Encoded result, int num_returns, const std::string& name) {
  if (num_returns == 1) {
    std::vector<Encoded> out;
    out.push_back(std::move(result));
    return out;
  }
  if (num_returns == 0) return {};
  throw InvocationError("the caller asked " + name + " for " + std::to_string(num_returns) +
                        " return values, but a C++ function returns one value (return a "
                        "std::tuple and use num_returns=1)");
}

const char* KindWord(EntryKind kind) {
  switch (kind) {
    case EntryKind::kFunction: return "a function (call it with Task)";
    case EntryKind::kFactory: return "an actor factory (call it with Actor)";
    case EntryKind::kActorFunction: return "an actor function (run it with handle.Call or __polyray_call__)";
    default: return "an actor method (call it through an actor handle)";
  }
}

}  // namespace

FunctionExecutor::FunctionExecutor(LoadReport report) : report_(std::move(report)) {}

FunctionExecutor::~FunctionExecutor() {
  std::map<std::string, Actor> actors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    actors.swap(actors_);
  }
  // Instances are deleted here, outside the lock (destructors are user code).
}

TaskExecutor FunctionExecutor::Bind(std::shared_ptr<FunctionExecutor> executor) {
  return [executor](const TaskInvocation& invocation) { return executor->Execute(invocation); };
}

size_t FunctionExecutor::ActorCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return actors_.size();
}

TaskOutcome FunctionExecutor::Execute(const TaskInvocation& invocation) {
  switch (invocation.kind) {
    case TaskInvocation::Kind::kActorCreation: return CreateActor(invocation);
    case TaskInvocation::Kind::kActorMethod:
    case TaskInvocation::Kind::kActorCall: return RunMethod(invocation);
    default: return RunFunction(invocation);
  }
}

const RegisteredEntry& FunctionExecutor::Lookup(const TaskInvocation& invocation,
                                                EntryKind kind) const {
  const std::string& name = invocation.function_name;
  const RegisteredEntry* entry = nullptr;
  try {
    entry = Registry::Instance().Find(name);  // throws for a duplicate
  } catch (const InvocationError& e) {
    throw LookupError(e.what());
  }
  if (entry == nullptr) {
    std::vector<std::string> names = Registry::Instance().Names();
    std::string known;
    for (size_t i = 0; i < names.size() && i < kMaxNamesListed; ++i) {
      known += (i == 0 ? "" : ", ") + names[i];
    }
    if (names.size() > kMaxNamesListed) known += ", ...";
    throw LookupError("C++ function " + (name.empty() ? std::string("(no name)") : name) +
                          " is not registered in this worker (no library on the code search "
                          "path registers it with POLYRAY_REMOTE); " +
                          report_.Describe() + "; registered names: " +
                          (known.empty() ? "none" : known));
  }
  if (entry->kind != kind) {
    throw LookupError(name + " is " + KindWord(entry->kind) + ", not " + KindWord(kind));
  }
  return *entry;
}

namespace {

// Runs `entry` as the caller asked: a generator (polyray::Yield) streams its
// items through invocation.emit_item; asking one kind for the other is an error.
Encoded Invoke(const RegisteredEntry& entry, void* self, const TaskInvocation& invocation) {
  if (entry.generate && invocation.emit_item) return entry.generate(self, invocation.args, invocation.emit_item);
  if (invocation.emit_item) {
    throw InvocationError(entry.name + " was called as a streaming generator (num_returns=\"streaming\") but is "
                                       "not one: a C++ generator takes a polyray::Yield<T>& as its first parameter");
  }
  return entry.invoke(self, invocation.args);  // a generator's invoke explains how to call it
}

}  // namespace

TaskOutcome FunctionExecutor::RunFunction(const TaskInvocation& invocation) {
  CallSite site;
  return Guarded(&site, [&] {
    const RegisteredEntry& entry = Lookup(invocation, EntryKind::kFunction);
    site = CallSite{entry.name, entry.library};
    TaskOutcome outcome;
    Encoded result = Invoke(entry, nullptr, invocation);
    outcome.returns = Returns(std::move(result), invocation.num_returns, entry.name);
    return outcome;
  });
}

TaskOutcome FunctionExecutor::CreateActor(const TaskInvocation& invocation) {
  CallSite site;
  TaskOutcome outcome = Guarded(&site, [&] {
    const RegisteredEntry& entry = Lookup(invocation, EntryKind::kFactory);
    site = CallSite{entry.name, entry.library};
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (actors_.count(invocation.actor_id) != 0) {
        throw InvocationError("this worker already hosts actor " + ToHex(invocation.actor_id));
      }
    }
    Actor actor;
    actor.instance = entry.create(invocation.args);
    actor.type = entry.class_type;
    actor.class_name = entry.class_name;
    actor.factory = entry.name;
    {
      std::lock_guard<std::mutex> lock(mu_);
      actors_[invocation.actor_id] = std::move(actor);
    }
    TaskOutcome created;
    created.returns = NilReturns(invocation.num_returns);
    return created;
  });
  if (!outcome.error_record.empty()) outcome.worker_exiting = true;
  return outcome;
}

TaskOutcome FunctionExecutor::RunMethod(const TaskInvocation& invocation) {
  CallSite site;
  Actor actor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = actors_.find(invocation.actor_id);
    if (it != actors_.end()) actor = it->second;  // keeps the instance alive during the call
  }
  if (!actor.instance) {
    TaskOutcome outcome;
    outcome.error_record = ActorDiedRecord(
        "this C++ worker does not host actor " + ToHex(invocation.actor_id) +
        " (its creation failed or never ran here); cannot run " + invocation.function_name);
    return outcome;
  }
  return Guarded(&site, [&] {
    const bool call = invocation.kind == TaskInvocation::Kind::kActorCall;  // __polyray_call__
    const RegisteredEntry& entry = Lookup(invocation, call ? EntryKind::kActorFunction : EntryKind::kMethod);
    site = CallSite{entry.name, entry.library};
    if (call && (entry.class_type == nullptr || actor.type == nullptr || *entry.class_type != *actor.type)) {
      throw InvocationError("__polyray_call__: " + entry.name + " is not a function of actor class " +
                            (actor.type ? TypeName(*actor.type) : actor.class_name) + " (created by " +
                            actor.factory + "): it takes a " +
                            (entry.class_type ? TypeName(*entry.class_type) : entry.class_name) + "& first");
    }
    if (entry.class_type == nullptr || actor.type == nullptr || *entry.class_type != *actor.type) {
      throw InvocationError(entry.name + " is a method of " +
                            (entry.class_type ? TypeName(*entry.class_type) : entry.class_name) +
                            ", but actor " + ToHex(invocation.actor_id) + " is a " +
                            (actor.type ? TypeName(*actor.type) : actor.class_name) +
                            " (created by " + actor.factory + ")");
    }
    TaskOutcome outcome;
    Encoded result = Invoke(entry, actor.instance.get(), invocation);
    outcome.returns = Returns(std::move(result), invocation.num_returns, entry.name);
    return outcome;
  });
}

}  // namespace internal
}  // namespace polyray

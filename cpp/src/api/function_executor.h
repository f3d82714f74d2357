// The C++ worker's TaskExecutor: maps each TaskInvocation to the registered
// entry it names and runs it, holding the instances of the actors this
// worker hosts.
//
// Invariants:
//  - Execute never throws and never kills the process: every failure is an
//    error record in the outcome (the worker stays up). An unknown function
//    names the function, the code search path and what was (not) loaded;
//    bad arguments or results are RUNTIME_ERROR records naming the function;
//    the callee's exceptions become C++ error records whose cause is the
//    remote error they carry (so call chains keep every hop).
//  - A failed actor creation (unknown factory, bad arguments, a factory that
//    throws or returns null) sets worker_exiting: the actor never existed.
//  - Actor instances are owned here, keyed by actor ID, and deleted (as
//    their class) when the executor is destroyed. A method runs only on an
//    instance of its own class.
#ifndef POLYRAY_SRC_API_FUNCTION_EXECUTOR_H_
#define POLYRAY_SRC_API_FUNCTION_EXECUTOR_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <typeinfo>

#include "api/library_loader.h"
#include "polyray/internal/registry.h"
#include "polyray/internal/runtime.h"

namespace polyray {
namespace internal {

/// Runs registered C++ callables for RunWorker (see the file comment).
class FunctionExecutor {
 public:
  /// An executor over the process's Registry; `report` says how user code
  /// was loaded (quoted in errors about unknown functions).
  explicit FunctionExecutor(LoadReport report);
  ~FunctionExecutor();

  /// Runs one task; thread-safe (calls for different actors may overlap).
  TaskOutcome Execute(const TaskInvocation& invocation);

  /// A TaskExecutor for RunWorker that forwards to `executor`.
  static TaskExecutor Bind(std::shared_ptr<FunctionExecutor> executor);

  /// Number of actors alive in this worker.
  size_t ActorCount() const;

 private:
  struct Actor {
    std::shared_ptr<void> instance;
    const std::type_info* type = nullptr;
    std::string class_name;
    std::string factory;
  };

  TaskOutcome RunFunction(const TaskInvocation& invocation);
  TaskOutcome CreateActor(const TaskInvocation& invocation);
  TaskOutcome RunMethod(const TaskInvocation& invocation);
  /// The entry named by the invocation, checked to be of `kind`; throws
  /// InvocationError (unknown name, duplicate, wrong kind).
  const RegisteredEntry& Lookup(const TaskInvocation& invocation, EntryKind kind) const;

  LoadReport report_;
  mutable std::mutex mu_;
  std::map<std::string, Actor> actors_;
};

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_SRC_API_FUNCTION_EXECUTOR_H_

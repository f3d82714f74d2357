// Calls of generator tasks from C++ (Ray's num_returns="streaming"): the
// result is an ObjectRefGenerator<T> (object_ref_generator.h) whose items
// arrive as the callee yields them.
//
//  - A C++ generator registered in this process (first parameter
//    polyray::Yield<T>&, yield.h) streams by itself:
//    `polyray::Task(CountUp).Remote(3)`, `handle.Task(&Class::Gen).Remote(...)`.
//  - Any other callee given by name streams with RemoteGenerator (defined in
//    task_caller.h / actor_task_caller.h): Python generator functions and
//    methods, C++ generators by name (CppFunction / CppActorMethod), Java
//    methods returning an Iterator/Iterable/Stream (JavaFunction /
//    JavaActorMethod).
//
// Invariants: arguments are checked and encoded before anything is sent (as
// Remote()); a generator call is retried as other calls are (max_retries /
// max_task_retries; the retry's repeated items are dropped, as Python's);
// "dynamic" generators are not offered to C++ callers.
#ifndef POLYRAY_GENERATOR_CALLERS_H_
#define POLYRAY_GENERATOR_CALLERS_H_

#include <string>
#include <utility>
#include <vector>

#include "polyray/actor_task_caller.h"
#include "polyray/object_ref_generator.h"
#include "polyray/task_caller.h"
#include "polyray/yield.h"

namespace polyray {

/// A call of a C++ generator function void(Yield<T>&, P...) registered in
/// this process: Remote() streams its items.
template <typename T, typename... P>
class TaskCaller<void(Yield<T>&, P...)> : public internal::ResourceSetters<TaskCaller<void(Yield<T>&, P...)>>,
                                          public internal::NameSetter<TaskCaller<void(Yield<T>&, P...)>>,
                                          public internal::SchedulingSetters<TaskCaller<void(Yield<T>&, P...)>> {
 public:
  /// A caller of the generator registered as `name`.
  explicit TaskCaller(std::string name) : name_(std::move(name)) {}

  /// Submits the task; returns its items as they come.
  template <typename... A>
  ObjectRefGenerator<T> Remote(A&&... args) {
    std::vector<internal::TaskArg> encoded = internal::MakeTypedArguments<P...>(name_, std::forward<A>(args)...);
    internal::FunctionDescriptor function{Language::kCpp, name_, "", ""};
    return internal::SubmitGeneratorTask<T>(function, std::move(encoded), this->options_);
  }

  /// The registered name of the generator.
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

/// A call of a generator member void(Yield<T>&, P...) of a C++ actor:
/// Remote() streams its items.
template <typename T, typename... P>
class ActorTaskCaller<void(Yield<T>&, P...)>
    : public internal::NameSetter<ActorTaskCaller<void(Yield<T>&, P...)>>,
      public internal::ActorCallSetters<ActorTaskCaller<void(Yield<T>&, P...)>> {
 public:
  /// A caller of the generator method registered as `name` (class `class_name`) on `actor`.
  ActorTaskCaller(internal::ActorPtr actor, std::string name, std::string class_name)
      : actor_(std::move(actor)), name_(std::move(name)), class_name_(std::move(class_name)) {}

  /// Submits the call; returns its items as they come.
  template <typename... A>
  ObjectRefGenerator<T> Remote(A&&... args) {
    std::vector<internal::TaskArg> encoded = internal::MakeTypedArguments<P...>(name_, std::forward<A>(args)...);
    internal::FunctionDescriptor method{Language::kCpp, name_, class_name_, ""};
    return internal::SubmitGeneratorCall<T>(actor_, method, std::move(encoded), this->options_);
  }

 private:
  internal::ActorPtr actor_;
  std::string name_;
  std::string class_name_;
};

}  // namespace polyray

#endif  // POLYRAY_GENERATOR_CALLERS_H_

// Task(f).Remote(args...): normal tasks of C++ functions registered in this
// process, of C++ functions by name, and of Python and Java functions.
//
// Invariants:
//  - Task(f) resolves f's registered name when called (an unregistered f
//    throws polyray::Error right there); Remote() encodes every argument
//    before submitting, so a bad argument means nothing was sent.
//  - A caller is a value: it can be kept and Remote() called many times.
#ifndef POLYRAY_TASK_CALLER_H_
#define POLYRAY_TASK_CALLER_H_

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "polyray/internal/arguments.h"
#include "polyray/internal/call_options.h"
#include "polyray/internal/function_traits.h"
#include "polyray/internal/registry.h"
#include "polyray/internal/returns.h"
#include "polyray/internal/runtime.h"
#include "polyray/object_ref.h"
#include "polyray/object_ref_generator.h"
#include "polyray/xlang_functions.h"

namespace polyray {

namespace internal {
/// Submits a normal task and wraps its single return.
template <typename R>
ObjectRef<R> SubmitNormalTask(const FunctionDescriptor& function, std::vector<TaskArg> args,
                              const CallOptions& options) {
  std::vector<RefPtr> refs = CurrentRuntime().SubmitTask(function, std::move(args), options);
  if (refs.size() != 1) throw Error("polyray: a task submission returned no ObjectRef");
  return ObjectRef<R>(std::move(refs[0]));
}
}  // namespace internal

template <typename Signature>
class TaskCaller;

/// A call of a registered C++ function R(P...): arguments are checked
/// against P... at compile time. Get() of the result yields std::decay_t<R>
/// (nothing for void).
template <typename R, typename... P>
class TaskCaller<R(P...)> : public internal::ResourceSetters<TaskCaller<R(P...)>>,
                            public internal::RetrySetters<TaskCaller<R(P...)>>,
                            public internal::NameSetter<TaskCaller<R(P...)>>,
                            public internal::SchedulingSetters<TaskCaller<R(P...)>> {
 public:
  /// A caller of the function registered as `name`.
  explicit TaskCaller(std::string name) : name_(std::move(name)) {}

  /// Submits the task; returns the reference to its result.
  template <typename... A>
  ObjectRef<std::decay_t<R>> Remote(A&&... args) {
    std::vector<internal::TaskArg> encoded =
        internal::MakeTypedArguments<P...>(name_, std::forward<A>(args)...);
    internal::FunctionDescriptor function{Language::kCpp, name_, "", ""};
    return internal::SubmitNormalTask<std::decay_t<R>>(function, std::move(encoded), this->options_);
  }

  /// The registered name of the function.
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

/// A call of a function in any language given by name; R is the type Get()
/// decodes the result into.
template <typename R>
class XlangTaskCaller : public internal::ResourceSetters<XlangTaskCaller<R>>,
                        public internal::RetrySetters<XlangTaskCaller<R>>,
                        public internal::NameSetter<XlangTaskCaller<R>>,
                        public internal::SchedulingSetters<XlangTaskCaller<R>>,
                        public internal::ReturnsSetter<XlangTaskCaller<R>> {
 public:
  /// A caller of `function`; `display` names it in errors.
  XlangTaskCaller(internal::FunctionDescriptor function, std::string display)
      : function_(std::move(function)), display_(std::move(display)) {}

  /// Submits the task; returns the reference to its result.
  template <typename... A>
  ObjectRef<R> Remote(A&&... args) {
    internal::CheckReturns(this->options_, function_.language, display_, false);
    std::vector<internal::TaskArg> encoded =
        internal::MakeArguments(display_, function_.language, std::forward<A>(args)...);
    return internal::SubmitNormalTask<R>(function_, std::move(encoded), this->options_);
  }

  /// Submits the task; one reference per return (SetNumReturns, default 1),
  /// each decoded as R.
  template <typename... A>
  std::vector<ObjectRef<R>> RemoteMulti(A&&... args) {
    internal::CheckReturns(this->options_, function_.language, display_, true);
    std::vector<internal::TaskArg> encoded =
        internal::MakeArguments(display_, function_.language, std::forward<A>(args)...);
    std::vector<internal::RefPtr> refs =
        internal::CurrentRuntime().SubmitTask(function_, std::move(encoded), this->options_);
    std::vector<ObjectRef<R>> out;
    for (internal::RefPtr& r : refs) out.push_back(ObjectRef<R>(std::move(r)));
    return out;
  }

  /// Submits the task as a streaming generator (Ray's num_returns="streaming"):
  /// its items, each decoded as R, as the callee yields them (generator_callers.h).
  /// A Java callee is refused (std::invalid_argument).
  template <typename... A>
  ObjectRefGenerator<R> RemoteGenerator(A&&... args) {
    internal::CheckReturns(this->options_, function_.language, display_, false);
    std::vector<internal::TaskArg> encoded =
        internal::MakeArguments(display_, function_.language, std::forward<A>(args)...);
    return internal::SubmitGeneratorTask<R>(function_, std::move(encoded), this->options_);
  }

 private:
  internal::FunctionDescriptor function_;
  std::string display_;
};

/// A task of the C++ function `f`, registered with POLYRAY_REMOTE in this
/// process: `Task(Plus1).Remote(1)`.
template <typename R, typename... P>
TaskCaller<R(P...)> Task(R (*f)(P...)) {
  static_assert(!internal::kIsFactoryResult<R>,
                "polyray: this function returns a class pointer, so it is an actor factory: "
                "use Actor(f).Remote(...)");
  return TaskCaller<R(P...)>(internal::RegisteredEntryOf(f, "Task(f)").name);
}

/// The noexcept overload of Task(f).
template <typename R, typename... P>
TaskCaller<R(P...)> Task(R (*f)(P...) noexcept) {
  static_assert(!internal::kIsFactoryResult<R>,
                "polyray: this function returns a class pointer, so it is an actor factory: "
                "use Actor(f).Remote(...)");
  return TaskCaller<R(P...)>(internal::RegisteredEntryOf(f, "Task(f)").name);
}

/// A task of a Python function.
template <typename R>
XlangTaskCaller<R> Task(const PyFunction<R>& f) {
  return XlangTaskCaller<R>({Language::kPython, f.module, f.name, ""},
                            "Python function " + f.module + "." + f.name);
}

/// A task of a static Java method.
template <typename R>
XlangTaskCaller<R> Task(const JavaFunction<R>& f) {
  return XlangTaskCaller<R>({Language::kJava, f.className, f.method, ""},
                            "Java method " + f.className + "." + f.method);
}

/// A task of a C++ function by its registered name (checked on the worker).
template <typename R>
XlangTaskCaller<R> Task(const CppFunction<R>& f) {
  return XlangTaskCaller<R>({Language::kCpp, f.name, "", ""}, f.name);
}

}  // namespace polyray

#endif  // POLYRAY_TASK_CALLER_H_

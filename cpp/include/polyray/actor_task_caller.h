// Actor method calls: handle.Task(&Class::Method).Remote(args...) for C++
// actors, xhandle.Task(PyActorMethod<R>{...}) (Java, C++ by name) for the
// others. Also defines the Task members declared in actor_handle.h.
//
// Invariants:
//  - The method's registered name is resolved when Task() is called; an
//    unregistered member function throws polyray::Error there.
//  - Calls from one caller to one actor start in submission order (the
//    runtime's rule; one at a time unless the actor was created with
//    SetMaxConcurrency(n > 1)); arguments are encoded before SubmitActorTask.
//  - A method descriptor of a language other than the actor's is rejected
//    by Task() (a PyActorMethod on a Java actor, ...).
//  - Method descriptors carry the method's name in `first` (the runtime
//    completes module / class from the actor's handle); for C++ methods
//    that is the registered "Class::Method" name.
#ifndef POLYRAY_ACTOR_TASK_CALLER_H_
#define POLYRAY_ACTOR_TASK_CALLER_H_

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "polyray/actor_handle.h"
#include "polyray/internal/arguments.h"
#include "polyray/internal/call_options.h"
#include "polyray/internal/registry.h"
#include "polyray/internal/returns.h"
#include "polyray/internal/runtime.h"
#include "polyray/object_ref.h"
#include "polyray/object_ref_generator.h"
#include "polyray/xlang_functions.h"

namespace polyray {

namespace internal {
/// Submits an actor call and wraps its single return.
template <typename R>
ObjectRef<R> SubmitActorCall(const ActorPtr& actor, const FunctionDescriptor& method,
                             std::vector<TaskArg> args, const CallOptions& options) {
  if (!actor) throw Error("polyray: cannot call " + method.first + method.second + " on an empty actor handle");
  std::vector<RefPtr> refs =
      CurrentRuntime().SubmitActorTask(actor, method, std::move(args), options);
  if (refs.size() != 1) throw Error("polyray: an actor call submission returned no ObjectRef");
  return ObjectRef<R>(std::move(refs[0]));
}
}  // namespace internal

/// A call of a registered member function R(P...) of a C++ actor; arguments
/// are checked against P... at compile time.
template <typename R, typename... P>
class ActorTaskCaller<R(P...)> : public internal::NameSetter<ActorTaskCaller<R(P...)>>,
                                 public internal::ActorCallSetters<ActorTaskCaller<R(P...)>> {
 public:
  /// A caller of the method registered as `name` (class `class_name`) on `actor`.
  ActorTaskCaller(internal::ActorPtr actor, std::string name, std::string class_name)
      : actor_(std::move(actor)), name_(std::move(name)), class_name_(std::move(class_name)) {}

  /// Submits the call; returns the reference to its result.
  template <typename... A>
  ObjectRef<std::decay_t<R>> Remote(A&&... args) {
    std::vector<internal::TaskArg> encoded =
        internal::MakeTypedArguments<P...>(name_, std::forward<A>(args)...);
    internal::FunctionDescriptor method{Language::kCpp, name_, class_name_, ""};
    return internal::SubmitActorCall<std::decay_t<R>>(actor_, method, std::move(encoded),
                                                      this->options_);
  }

 private:
  internal::ActorPtr actor_;
  std::string name_;
  std::string class_name_;
};

/// A call of a registered actor function R(T&, P...) with the actor's
/// instance (handle.Call(&Bump), Ray's __ray_call__): sent as the built-in
/// method __polyray_call__ whose argument 0 is the function's registered name.
template <typename R, typename... P>
class ActorFunctionCaller<R(P...)> : public internal::NameSetter<ActorFunctionCaller<R(P...)>>,
                                     public internal::ActorCallSetters<ActorFunctionCaller<R(P...)>> {
 public:
  /// A caller of the actor function registered as `name` on `actor`.
  ActorFunctionCaller(internal::ActorPtr actor, std::string name)
      : actor_(std::move(actor)), name_(std::move(name)) {}

  /// Submits the call; returns the reference to its result.
  template <typename... A>
  ObjectRef<std::decay_t<R>> Remote(A&&... args) {
    std::vector<internal::TaskArg> encoded = internal::MakeTypedArguments<P...>(name_, std::forward<A>(args)...);
    encoded.insert(encoded.begin(), internal::MakeTypedArgument<std::string>(name_, 0, "__polyray_call__"));
    internal::FunctionDescriptor method{Language::kCpp, "__polyray_call__", "", ""};
    return internal::SubmitActorCall<std::decay_t<R>>(actor_, method, std::move(encoded), this->options_);
  }

 private:
  internal::ActorPtr actor_;
  std::string name_;
};

/// A call of a method of an actor in any language given by name; R is the
/// type Get() decodes the result into.
template <typename R>
class XlangActorTaskCaller : public internal::NameSetter<XlangActorTaskCaller<R>>,
                             public internal::ActorCallSetters<XlangActorTaskCaller<R>>,
                             public internal::ReturnsSetter<XlangActorTaskCaller<R>> {
 public:
  /// A caller of `method` on `actor`; `display` names it in errors.
  XlangActorTaskCaller(internal::ActorPtr actor, internal::FunctionDescriptor method,
                       std::string display)
      : actor_(std::move(actor)), method_(std::move(method)), display_(std::move(display)) {}

  /// Submits the call; returns the reference to its result.
  template <typename... A>
  ObjectRef<R> Remote(A&&... args) {
    internal::CheckReturns(this->options_, method_.language, display_, false);
    std::vector<internal::TaskArg> encoded =
        internal::MakeArguments(display_, method_.language, std::forward<A>(args)...);
    return internal::SubmitActorCall<R>(actor_, method_, std::move(encoded), this->options_);
  }

  /// Submits the call; one reference per return (SetNumReturns, default 1).
  template <typename... A>
  std::vector<ObjectRef<R>> RemoteMulti(A&&... args) {
    internal::CheckReturns(this->options_, method_.language, display_, true);
    if (!actor_) throw Error("polyray: cannot call " + display_ + " on an empty actor handle");
    std::vector<internal::TaskArg> encoded =
        internal::MakeArguments(display_, method_.language, std::forward<A>(args)...);
    std::vector<internal::RefPtr> refs =
        internal::CurrentRuntime().SubmitActorTask(actor_, method_, std::move(encoded), this->options_);
    std::vector<ObjectRef<R>> out;
    for (internal::RefPtr& r : refs) out.push_back(ObjectRef<R>(std::move(r)));
    return out;
  }

  /// Submits the call as a streaming generator: its items, each decoded as R,
  /// as the method yields them (generator_callers.h).
  template <typename... A>
  ObjectRefGenerator<R> RemoteGenerator(A&&... args) {
    internal::CheckReturns(this->options_, method_.language, display_, false);
    std::vector<internal::TaskArg> encoded =
        internal::MakeArguments(display_, method_.language, std::forward<A>(args)...);
    return internal::SubmitGeneratorCall<R>(actor_, method_, std::move(encoded), this->options_);
  }

 private:
  internal::ActorPtr actor_;
  internal::FunctionDescriptor method_;
  std::string display_;
};

namespace internal {
/// The caller of member `method` of C++ actor `actor`.
template <typename Signature, typename M>
ActorTaskCaller<Signature> MakeActorTaskCaller(const ActorPtr& actor, M method) {
  const RegisteredEntry& entry = RegisteredEntryOf(method, "handle.Task(&Class::Method)");
  return ActorTaskCaller<Signature>(actor, entry.name, entry.class_name);
}

/// Throws unless `actor` is an actor of `language` (`what` names the method).
inline void CheckActorLanguage(const ActorPtr& actor, Language language, const std::string& what) {
  if (actor && actor->language != language) {
    throw Error(std::string("polyray: ") + what + " calls a " + LanguageName(language) +
                " method, but the actor is a " + LanguageName(actor->language) + " actor");
  }
}
}  // namespace internal

template <typename T>
template <typename R, typename... P>
ActorTaskCaller<R(P...)> ActorHandle<T>::Task(R (T::*method)(P...)) const {
  return internal::MakeActorTaskCaller<R(P...)>(actor_, method);
}
template <typename T>
template <typename R, typename... P>
ActorTaskCaller<R(P...)> ActorHandle<T>::Task(R (T::*method)(P...) const) const {
  return internal::MakeActorTaskCaller<R(P...)>(actor_, method);
}
template <typename T>
template <typename R, typename... P>
ActorTaskCaller<R(P...)> ActorHandle<T>::Task(R (T::*method)(P...) noexcept) const {
  return internal::MakeActorTaskCaller<R(P...)>(actor_, method);
}
template <typename T>
template <typename R, typename... P>
ActorTaskCaller<R(P...)> ActorHandle<T>::Task(R (T::*method)(P...) const noexcept) const {
  return internal::MakeActorTaskCaller<R(P...)>(actor_, method);
}

template <typename T>
template <typename R, typename... P>
ActorFunctionCaller<R(P...)> ActorHandle<T>::Call(R (*f)(T&, P...)) const {
  return ActorFunctionCaller<R(P...)>(actor_, internal::RegisteredEntryOf(f, "handle.Call(&F)").name);
}
template <typename T>
template <typename R, typename... P>
ActorFunctionCaller<R(P...)> ActorHandle<T>::Call(R (*f)(T&, P...) noexcept) const {
  return ActorFunctionCaller<R(P...)>(actor_, internal::RegisteredEntryOf(f, "handle.Call(&F)").name);
}

template <typename R>
XlangActorTaskCaller<R> ActorHandleXlang::Task(const PyActorMethod<R>& method) const {
  std::string what = "PyActorMethod{\"" + method.name + "\"}";
  internal::CheckActorLanguage(actor_, Language::kPython, what);
  return XlangActorTaskCaller<R>(actor_, {Language::kPython, method.name, "", ""},
                                 "Python actor method " + method.name);
}

template <typename R>
XlangActorTaskCaller<R> ActorHandleXlang::Task(const JavaActorMethod<R>& method) const {
  std::string what = "JavaActorMethod{\"" + method.name + "\"}";
  internal::CheckActorLanguage(actor_, Language::kJava, what);
  return XlangActorTaskCaller<R>(actor_, {Language::kJava, method.name, "", ""},
                                 "Java actor method " + method.name);
}

template <typename R>
XlangActorTaskCaller<R> ActorHandleXlang::Task(const CppActorMethod<R>& method) const {
  std::string what = "CppActorMethod{\"" + method.name + "\"}";
  internal::CheckActorLanguage(actor_, Language::kCpp, what);
  return XlangActorTaskCaller<R>(actor_, {Language::kCpp, method.name, internal::ClassPartOf(method.name), ""},
                                 method.name);
}

}  // namespace polyray

#endif  // POLYRAY_ACTOR_TASK_CALLER_H_

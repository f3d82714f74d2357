// Actor(factory).Remote(args...): creates an actor from a C++ factory
// registered in this process (→ ActorHandle<Class>), or from a Python class,
// a Java class or a C++ factory known by name (→ ActorHandleXlang).
//
// Invariants: as for tasks, the factory's name is resolved by Actor() and
// every argument encoded before CreateActor is called; the handle returned
// is the creator's reference (the runtime tracks it).
#ifndef POLYRAY_ACTOR_CREATOR_H_
#define POLYRAY_ACTOR_CREATOR_H_

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "polyray/actor_handle.h"
#include "polyray/internal/arguments.h"
#include "polyray/internal/call_options.h"
#include "polyray/internal/registry.h"
#include "polyray/internal/runtime.h"
#include "polyray/xlang_functions.h"

namespace polyray {

template <typename C, typename Signature>
class ActorCreator;

/// Creation of a C++ actor of class C by a registered factory C*(P...).
template <typename C, typename... P>
class ActorCreator<C, C*(P...)> : public internal::ResourceSetters<ActorCreator<C, C*(P...)>>,
                                  public internal::NameSetter<ActorCreator<C, C*(P...)>>,
                                  public internal::ActorSetters<ActorCreator<C, C*(P...)>>,
                                  public internal::SchedulingSetters<ActorCreator<C, C*(P...)>> {
 public:
  /// A creator using the factory registered as `name` for class `class_name`.
  ActorCreator(std::string name, std::string class_name)
      : name_(std::move(name)), class_name_(std::move(class_name)) {}

  /// Creates the actor; the handle is usable at once (calls queue until the
  /// actor is alive; a factory that throws makes them fail with ActorDiedError).
  template <typename... A>
  ActorHandle<C> Remote(A&&... args) {
    std::vector<internal::TaskArg> encoded =
        internal::MakeTypedArguments<P...>(name_, std::forward<A>(args)...);
    internal::FunctionDescriptor creation{Language::kCpp, name_, class_name_, ""};
    return ActorHandle<C>(
        internal::CurrentRuntime().CreateActor(creation, std::move(encoded), this->options_));
  }

 private:
  std::string name_;
  std::string class_name_;
};

/// Creation of an actor written in Python or Java (or a C++ actor by name).
class XlangActorCreator : public internal::ResourceSetters<XlangActorCreator>,
                          public internal::NameSetter<XlangActorCreator>,
                          public internal::ActorSetters<XlangActorCreator>,
                          public internal::SchedulingSetters<XlangActorCreator> {
 public:
  /// A creator running `creation`; `display` names it in errors.
  XlangActorCreator(internal::FunctionDescriptor creation, std::string display)
      : creation_(std::move(creation)), display_(std::move(display)) {}

  /// Creates the actor (its constructor / factory gets `args`).
  template <typename... A>
  ActorHandleXlang Remote(A&&... args) {
    std::vector<internal::TaskArg> encoded =
        internal::MakeArguments(display_, creation_.language, std::forward<A>(args)...);
    return ActorHandleXlang(
        internal::CurrentRuntime().CreateActor(creation_, std::move(encoded), this->options_));
  }

 private:
  internal::FunctionDescriptor creation_;
  std::string display_;
};

namespace internal {
template <typename C, typename... P, typename F>
ActorCreator<C, C*(P...)> MakeActorCreator(F factory) {
  const RegisteredEntry& entry = RegisteredEntryOf(factory, "Actor(factory)");
  return ActorCreator<C, C*(P...)>(entry.name, entry.class_name);
}
}  // namespace internal

/// Creates a C++ actor with a factory registered by POLYRAY_REMOTE in this
/// process: `Actor(Counter::Create).Remote(0)` → ActorHandle<Counter>.
template <typename C, typename... P>
ActorCreator<C, C*(P...)> Actor(C* (*factory)(P...)) {
  return internal::MakeActorCreator<C, P...>(factory);
}

/// The noexcept overload of Actor(factory).
template <typename C, typename... P>
ActorCreator<C, C*(P...)> Actor(C* (*factory)(P...) noexcept) {
  return internal::MakeActorCreator<C, P...>(factory);
}

/// Creates a Python actor: `Actor(PyActorClass{"mymod", "Counter"}).Remote(0)`.
inline XlangActorCreator Actor(const PyActorClass& cls) {
  return XlangActorCreator({Language::kPython, cls.module, cls.className, ""},
                           "Python class " + cls.module + "." + cls.className);
}

/// Creates a Java actor: `Actor(JavaActorClass{"pkg.Counter"}).Remote(5)`.
inline XlangActorCreator Actor(const JavaActorClass& cls) {
  return XlangActorCreator({Language::kJava, cls.className, "<init>", ""},
                           "Java class " + cls.className);
}

/// Creates a C++ actor by the registered name of its factory.
inline XlangActorCreator Actor(const CppActorClass& cls) {
  return XlangActorCreator({Language::kCpp, cls.createFunction, cls.className, ""},
                           cls.createFunction);
}

}  // namespace polyray

#endif  // POLYRAY_ACTOR_CREATOR_H_

// Actor handles: ActorHandle<T> for a C++ actor of class T, ActorHandleXlang
// for a Python or Java actor. Copies share one local reference; a handle can
// be passed inside values to any language (ext 2). Method calls are made with
// handle.Task(...).Remote(...); the callers are defined in actor_task_caller.h
// (included by polyray/api.h).
#ifndef POLYRAY_ACTOR_HANDLE_H_
#define POLYRAY_ACTOR_HANDLE_H_

#include <string>
#include <utility>

#include "polyray/internal/runtime.h"
#include "polyray/object_ref.h"
#include "polyray/xlang_functions.h"

namespace polyray {

template <typename Signature>
class ActorTaskCaller;
template <typename R>
class XlangActorTaskCaller;
template <typename Signature>
class ActorFunctionCaller;

/// A handle to a C++ actor of class T (created by Actor(T::Create).Remote()).
template <typename T>
class ActorHandle {
 public:
  /// An empty handle (IsNil() is true).
  ActorHandle() = default;
  /// Adopts one local reference from the runtime.
  explicit ActorHandle(internal::ActorPtr actor) : actor_(std::move(actor)) {}
  /// The actor ID in hex (32 digits).
  std::string Id() const { return actor_ ? internal::ToHex(actor_->actor_id) : std::string(); }
  /// Whether this handle is empty.
  bool IsNil() const { return actor_ == nullptr; }
  /// The runtime's entry (the protocol's ActorHandle message).
  const internal::ActorPtr& entry() const { return actor_; }

  /// A call of the registered member function `method` of T:
  /// `handle.Task(&Counter::Add).Remote(1)`.
  template <typename R, typename... P>
  ActorTaskCaller<R(P...)> Task(R (T::*method)(P...)) const;
  /// The const-method overload of Task.
  template <typename R, typename... P>
  ActorTaskCaller<R(P...)> Task(R (T::*method)(P...) const) const;
  /// The noexcept overload of Task.
  template <typename R, typename... P>
  ActorTaskCaller<R(P...)> Task(R (T::*method)(P...) noexcept) const;
  /// The const noexcept overload of Task.
  template <typename R, typename... P>
  ActorTaskCaller<R(P...)> Task(R (T::*method)(P...) const noexcept) const;

  /// A call that runs the registered actor function `f` (a free function
  /// taking T& first) inside the actor with its instance, serialized with its
  /// other calls (Ray's __ray_call__): `handle.Call(&Bump).Remote(1)`.
  template <typename R, typename... P>
  ActorFunctionCaller<R(P...)> Call(R (*f)(T&, P...)) const;
  /// The noexcept overload of Call.
  template <typename R, typename... P>
  ActorFunctionCaller<R(P...)> Call(R (*f)(T&, P...) noexcept) const;

 private:
  internal::ActorPtr actor_;
};

/// A handle to an actor written in Python or Java (or a C++ actor created
/// by name with CppActorClass).
class ActorHandleXlang {
 public:
  /// An empty handle (IsNil() is true).
  ActorHandleXlang() = default;
  /// Adopts one local reference from the runtime.
  explicit ActorHandleXlang(internal::ActorPtr actor) : actor_(std::move(actor)) {}
  /// The actor ID in hex (32 digits).
  std::string Id() const { return actor_ ? internal::ToHex(actor_->actor_id) : std::string(); }
  /// Whether this handle is empty.
  bool IsNil() const { return actor_ == nullptr; }
  /// The runtime's entry (the protocol's ActorHandle message).
  const internal::ActorPtr& entry() const { return actor_; }
  /// The language of the actor.
  Language language() const { return actor_ ? actor_->language : Language::kCpp; }

  /// A call of a method of a Python actor.
  template <typename R>
  XlangActorTaskCaller<R> Task(const PyActorMethod<R>& method) const;
  /// A call of a method of a Java actor.
  template <typename R>
  XlangActorTaskCaller<R> Task(const JavaActorMethod<R>& method) const;
  /// A call of a method of a C++ actor by its registered name.
  template <typename R>
  XlangActorTaskCaller<R> Task(const CppActorMethod<R>& method) const;

 private:
  internal::ActorPtr actor_;
};

}  // namespace polyray

#endif  // POLYRAY_ACTOR_HANDLE_H_

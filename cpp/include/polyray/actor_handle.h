// Actor handles: ActorHandle<T> for a C++ actor of class T, ActorHandleXlang
// for a Python or Java actor. Copies share one local reference; a handle can
// be passed inside values to any language (ext 2).
#ifndef POLYRAY_ACTOR_HANDLE_H_
#define POLYRAY_ACTOR_HANDLE_H_

#include <string>
#include <utility>

#include "polyray/internal/runtime.h"
#include "polyray/object_ref.h"

namespace polyray {

/// A handle to a C++ actor of class T (created by Actor(T::Create).Remote()).
template <typename T>
class ActorHandle {
 public:
  ActorHandle() = default;
  /// Adopts one local reference from the runtime.
  explicit ActorHandle(internal::ActorPtr actor) : actor_(std::move(actor)) {}
  /// The actor ID in hex (32 digits).
  std::string Id() const { return actor_ ? internal::ToHex(actor_->actor_id) : std::string(); }
  bool IsNil() const { return actor_ == nullptr; }
  /// The runtime's entry (the protocol's ActorHandle message).
  const internal::ActorPtr& entry() const { return actor_; }

 private:
  internal::ActorPtr actor_;
};

/// A handle to an actor written in Python or Java.
class ActorHandleXlang {
 public:
  ActorHandleXlang() = default;
  explicit ActorHandleXlang(internal::ActorPtr actor) : actor_(std::move(actor)) {}
  std::string Id() const { return actor_ ? internal::ToHex(actor_->actor_id) : std::string(); }
  bool IsNil() const { return actor_ == nullptr; }
  const internal::ActorPtr& entry() const { return actor_; }

 private:
  internal::ActorPtr actor_;
};

}  // namespace polyray

#endif  // POLYRAY_ACTOR_HANDLE_H_

// References inside values (docs/protocol.md §10.3): ObjectRef<T> as ext 1,
// ActorHandle<T> / ActorHandleXlang as ext 2.
//
// Invariants:
//  - Encoding writes the entry's serialized protocol message as the payload
//    and records it in Encoded::nested_refs / nested_handles; an empty
//    reference has no XLANG form (encode error).
//  - Decoding calls internal::CurrentRuntime().BorrowRef / BorrowActor, so
//    the reference counts as borrowed while the C++ object lives. (XValue
//    decodes references without a runtime, as bytes.)
//  - ActorHandle<T> accepts only C++ actors; ActorHandleXlang any language.
#ifndef POLYRAY_CODEC_REFS_H_
#define POLYRAY_CODEC_REFS_H_

#include <string>
#include <typeinfo>

#include "polyray/actor_handle.h"
#include "polyray/codec/scalars.h"
#include "polyray/codec/wire.h"
#include "polyray/internal/errors.h"
#include "polyray/object_ref.h"

namespace polyray {
namespace internal {

/// ext 1.
template <typename T>
struct Codec<ObjectRef<T>> {
  static std::string Name() { return Demangle(typeid(ObjectRef<T>).name()); }
  static void Encode(Writer& w, const ObjectRef<T>& v) {
    if (!v.entry()) ThrowEncodeMismatch(Name(), "is empty (a default-constructed ObjectRef)");
    w.Ref(v.entry()->serialized);
  }
  static void Decode(const msgpack::object& o, const DecodeContext&, ObjectRef<T>& out) {
    if (!IsExt(o, kExtObjectRef)) ThrowMismatch(o, Name());
    out = ObjectRef<T>(CurrentRuntime().BorrowRef(std::string(o.via.ext.data(), o.via.ext.size)));
  }
};

/// ext 2, a C++ actor.
template <typename T>
struct Codec<ActorHandle<T>> {
  static std::string Name() { return Demangle(typeid(ActorHandle<T>).name()); }
  static void Encode(Writer& w, const ActorHandle<T>& v) {
    if (!v.entry()) ThrowEncodeMismatch(Name(), "is empty (a default-constructed handle)");
    w.Actor(v.entry()->serialized);
  }
  static void Decode(const msgpack::object& o, const DecodeContext&, ActorHandle<T>& out) {
    if (!IsExt(o, kExtActorHandle)) ThrowMismatch(o, Name());
    ActorPtr actor = CurrentRuntime().BorrowActor(std::string(o.via.ext.data(), o.via.ext.size));
    if (actor && actor->language != Language::kCpp) {
      ThrowMismatch(o, Name(), "a handle to a Python or Java actor: decode it as polyray::ActorHandleXlang");
    }
    out = ActorHandle<T>(std::move(actor));
  }
};

/// ext 2, an actor of any language.
template <>
struct Codec<ActorHandleXlang> {
  static std::string Name() { return "polyray::ActorHandleXlang"; }
  static void Encode(Writer& w, const ActorHandleXlang& v) {
    if (!v.entry()) ThrowEncodeMismatch(Name(), "is empty (a default-constructed handle)");
    w.Actor(v.entry()->serialized);
  }
  static void Decode(const msgpack::object& o, const DecodeContext&, ActorHandleXlang& out) {
    if (!IsExt(o, kExtActorHandle)) ThrowMismatch(o, Name());
    out = ActorHandleXlang(CurrentRuntime().BorrowActor(std::string(o.via.ext.data(), o.via.ext.size)));
  }
};

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_CODEC_REFS_H_

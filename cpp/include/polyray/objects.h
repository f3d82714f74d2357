// Objects: Put a value, Get values (as std::shared_ptr<T>), Wait for refs.
//
// Invariants:
//  - Get decodes with codec Decode<T>; an ERROR value throws the polyray
//    exception it records (TaskException, CrossLanguageException, a system
//    error), via ThrowErrorRecord; a timeout throws GetTimeoutError.
//  - A result that views shared memory (NdSpan<T>) keeps the object pinned
//    for as long as the value (and so the returned shared_ptr) lives.
//  - Put encodes before anything is stored: a value with no XLANG form
//    throws polyray::TypeError and stores nothing.
#ifndef POLYRAY_OBJECTS_H_
#define POLYRAY_OBJECTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "polyray/codec.h"
#include "polyray/exceptions.h"
#include "polyray/internal/arguments.h"
#include "polyray/internal/runtime.h"
#include "polyray/object_ref.h"

namespace polyray {

namespace internal {
/// Throws unless `ref` is set (`use` names the API call).
inline void CheckRef(const RefPtr& ref, const char* use) {
  if (!ref) throw Error(std::string(use) + ": the ObjectRef is empty (default-constructed, never assigned)");
}

/// Decodes one fetched value of `ref` as T (void: only errors are checked).
template <typename T>
std::shared_ptr<T> DecodeFetched(const ValueView& view, const RefPtr& ref) {
  if (view.format == Format::kError) ThrowErrorRecord(view.body);
  if constexpr (std::is_void_v<T>) {
    return nullptr;
  } else {
    return std::make_shared<T>(Decode<T>(view, "the value of ObjectRef " + ToHex(ref->object_id)));
  }
}
}  // namespace internal

/// The value of `ref`, waiting up to `timeout_ms` (< 0: no limit). Throws
/// the task's error, or GetTimeoutError. Get of an ObjectRef<void> (a void
/// function's result) returns null once the task has succeeded.
template <typename T>
std::shared_ptr<T> Get(const ObjectRef<T>& ref, int64_t timeout_ms = -1) {
  internal::CheckRef(ref.entry(), "Get");
  std::vector<internal::ValueView> views =
      internal::CurrentRuntime().Get({ref.entry()}, timeout_ms);
  if (views.size() != 1) throw Error("polyray: Get returned no value");
  return internal::DecodeFetched<T>(views[0], ref.entry());
}

/// The values of `refs`, in order, waiting up to `timeout_ms` for all of
/// them (< 0: no limit). An error is thrown as soon as one is known, without
/// waiting for the others (as Ray's get): of the errors known at that moment,
/// the first in list order.
template <typename T>
std::vector<std::shared_ptr<T>> Get(const std::vector<ObjectRef<T>>& refs,
                                    int64_t timeout_ms = -1) {
  std::vector<internal::RefPtr> entries;
  entries.reserve(refs.size());
  for (const ObjectRef<T>& ref : refs) {
    internal::CheckRef(ref.entry(), "Get");
    entries.push_back(ref.entry());
  }
  std::vector<internal::ValueView> views = internal::CurrentRuntime().Get(entries, timeout_ms);
  if (views.size() != entries.size()) throw Error("polyray: Get returned a wrong number of values");
  std::vector<std::shared_ptr<T>> out;
  out.reserve(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    out.push_back(internal::DecodeFetched<T>(views[i], entries[i]));
  }
  return out;
}

/// Stores `value` in the object store (owned by this process) and returns
/// its reference; C strings are stored as std::string.
template <typename T>
ObjectRef<internal::EncodedTypeOf<T>> Put(const T& value) {
  using E = internal::EncodedTypeOf<T>;
  internal::Encoded encoded;
  if constexpr (std::is_same_v<E, T>) {
    encoded = internal::Encode<E>(value, "the value given to Put");
  } else {
    encoded = internal::Encode<E>(E(value), "the value given to Put");
  }
  return ObjectRef<E>(internal::CurrentRuntime().Put(std::move(encoded)));
}

/// The outcome of Wait: the refs that are ready and those that are not,
/// each in input order.
template <typename T>
struct WaitResult {
  /// Refs whose values are available (or failed: Get throws their error).
  std::vector<ObjectRef<T>> ready;
  /// Refs still pending when Wait returned.
  std::vector<ObjectRef<T>> unready;
};

/// Waits until `num_objects` of `refs` are ready or `timeout_ms` passes
/// (< 0: no limit); never throws GetTimeoutError (the unready list says it).
template <typename T>
WaitResult<T> Wait(const std::vector<ObjectRef<T>>& refs, int num_objects,
                   int64_t timeout_ms = -1) {
  if (num_objects < 0 || static_cast<size_t>(num_objects) > refs.size()) {
    throw Error("Wait: num_objects is " + std::to_string(num_objects) + " but there are " +
                std::to_string(refs.size()) + " refs");
  }
  std::vector<internal::RefPtr> entries;
  entries.reserve(refs.size());
  for (const ObjectRef<T>& ref : refs) {
    internal::CheckRef(ref.entry(), "Wait");
    entries.push_back(ref.entry());
  }
  internal::WaitResult indices = internal::CurrentRuntime().Wait(entries, num_objects, timeout_ms);
  WaitResult<T> out;
  for (size_t i : indices.ready) out.ready.push_back(refs.at(i));
  for (size_t i : indices.not_ready) out.unready.push_back(refs.at(i));
  return out;
}

}  // namespace polyray

#endif  // POLYRAY_OBJECTS_H_

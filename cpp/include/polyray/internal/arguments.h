// Caller-side arguments: turns the values given to Remote(...) into TaskArgs.
//
// Invariants:
//  - A top-level ObjectRef<T> is passed by reference (the callee receives the
//    value); any other value is encoded here with codec Encode, so a value
//    with no XLANG form throws polyray::TypeError before anything is sent.
//  - For a C++ callee of known signature every argument is first converted
//    to its parameter's (decayed) type, so the callee decodes what it
//    declared; a count or type mismatch is a compile-time error.
//  - C strings (const char*, char arrays) are encoded as std::string.
#ifndef POLYRAY_INTERNAL_ARGUMENTS_H_
#define POLYRAY_INTERNAL_ARGUMENTS_H_

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "polyray/codec.h"
#include "polyray/exceptions.h"
#include "polyray/internal/registry.h"
#include "polyray/internal/runtime.h"
#include "polyray/object_ref.h"

namespace polyray {
namespace internal {

/// Whether T is an ObjectRef<U> (Value is U).
template <typename T>
struct IsObjectRef : std::false_type {};
template <typename U>
struct IsObjectRef<ObjectRef<U>> : std::true_type {
  using Value = U;
};

/// The type a caller's value of type A is encoded as.
template <typename A>
using EncodedTypeOf =
    std::conditional_t<std::is_same_v<std::decay_t<A>, const char*> ||
                           std::is_same_v<std::decay_t<A>, char*>,
                       std::string, std::decay_t<A>>;

/// "Python", "Java" or "C++".
inline const char* LanguageName(Language language) {
  switch (language) {
    case Language::kPython: return "Python";
    case Language::kJava: return "Java";
    default: return "C++";
  }
}

/// A by-reference argument; an empty ObjectRef is an error naming it.
inline TaskArg RefArgument(const RefPtr& ref, size_t index, const std::string& callee) {
  if (!ref) {
    throw Error("argument " + std::to_string(index) + " of " + callee +
                " is an empty ObjectRef (default-constructed, never assigned)");
  }
  TaskArg arg;
  arg.ref = ref;
  return arg;
}

/// Encodes `value` as type E for argument `index` of `callee` in `target`;
/// a failure is a TypeError naming the argument, the type and the language.
template <typename E, typename V>
TaskArg ValueArgument(V&& value, size_t index, const std::string& callee, Language target) {
  TaskArg arg;
  const std::string what = "argument " + std::to_string(index) + " of " + callee;
  try {
    if constexpr (std::is_same_v<std::decay_t<V>, E>) {
      arg.value = Encode<E>(value, what);
    } else {
      const E converted(std::forward<V>(value));
      arg.value = Encode<E>(converted, what);
    }
  } catch (const TypeError& e) {
    throw TypeError(std::string(e.what()) + " (sending a " + Codec<E>::Name() + " to " +
                    LanguageName(target) + ")");
  }
  return arg;
}

/// One argument for a callee without declared C++ parameter types.
template <typename A>
TaskArg MakeArgument(A&& value, size_t index, const std::string& callee, Language target) {
  using D = std::decay_t<A>;
  if constexpr (IsObjectRef<D>::value) {
    return RefArgument(value.entry(), index, callee);
  } else {
    return ValueArgument<EncodedTypeOf<A>>(std::forward<A>(value), index, callee, target);
  }
}

/// The arguments of a call to a callee without declared parameter types.
template <typename... A>
std::vector<TaskArg> MakeArguments([[maybe_unused]] const std::string& callee,
                                   [[maybe_unused]] Language target, A&&... values) {
  std::vector<TaskArg> out;
  out.reserve(sizeof...(A));
  size_t index = 0;
  (out.push_back(MakeArgument(std::forward<A>(values), index++, callee, target)), ...);
  return out;
}

/// One argument for a C++ parameter of type P.
template <typename P, typename A>
TaskArg MakeTypedArgument(A&& value, size_t index, const std::string& callee) {
  using D = std::decay_t<A>;
  using Param = std::decay_t<P>;
  if constexpr (IsObjectRef<D>::value) {
    using V = typename IsObjectRef<D>::Value;
    static_assert(!std::is_void_v<V> && std::is_convertible_v<V, Param>,
                  "polyray: an ObjectRef<T> argument is passed by reference and the callee receives "
                  "its value, so T must convert to the parameter type (to pass the reference "
                  "itself, put it inside a value, e.g. a std::vector<ObjectRef<T>>)");
    return RefArgument(value.entry(), index, callee);
  } else {
    static_assert(std::is_constructible_v<Param, A&&>,
                  "polyray: an argument does not convert to the parameter type of the remote function");
    return ValueArgument<Param>(std::forward<A>(value), index, callee, Language::kCpp);
  }
}

/// The arguments of a call to a C++ callee whose parameters are P...
template <typename... P, typename... A>
std::vector<TaskArg> MakeTypedArguments([[maybe_unused]] const std::string& callee, A&&... values) {
  static_assert(sizeof...(P) == sizeof...(A),
                "polyray: Remote() got a different number of arguments than the function takes");
  std::vector<TaskArg> out;
  out.reserve(sizeof...(A));
  size_t index = 0;
  (out.push_back(MakeTypedArgument<P>(std::forward<A>(values), index++, callee)), ...);
  return out;
}

/// Like MakeTypedArguments, with the parameters given as a std::tuple type.
template <typename Tuple>
struct TypedArguments;
template <typename... P>
struct TypedArguments<std::tuple<P...>> {
  template <typename... A>
  static std::vector<TaskArg> Make(const std::string& callee, A&&... values) {
    return MakeTypedArguments<P...>(callee, std::forward<A>(values)...);
  }
};

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_INTERNAL_ARGUMENTS_H_

// POLYRAY_REMOTE(...): registers C++ functions, actor factories and member
// functions so that polyray_cpp_worker (and a driver's Task()/Actor()) can
// find them by a stable name.
//
//   int Plus1(int x) { return x + 1; }
//   class Counter { public: static Counter* Create(int start); int Add(int n); };
//   POLYRAY_REMOTE(Plus1, Counter::Create, &Counter::Add);
//
// An actor function (a free function whose first parameter is `Class&`,
// e.g. `int Bump(Counter& c, int n)`) runs with an actor's instance:
// handle.Call(&Bump).Remote(1) (Ray's __ray_call__). POLYRAY_REMOTE_IN_GROUP
// ("io", &Counter::Read) registers members whose calls run in that
// concurrency group of the actor by default.
//
// Names: as written for functions and factories ("Plus1", "Counter::Create",
// "ns::Plus1"), "Class::Method" for members (the leading '&' removed). A free
// function returning a pointer to a class is an actor factory; the instance it
// returns becomes the actor's state, owned (and deleted) by the worker.
//
// Invariants:
//  - Registration happens in static initializers and never throws: problems
//    (a name registered twice by different callables) are recorded in the
//    Registry and reported on the call that needs the name.
//  - An entry decodes argument i with codec Decode<std::decay_t<P_i>> and the
//    description "argument i of Name", and encodes the result with codec
//    Encode (void returns nil); every failure of those steps is an
//    InvocationError, every exception of the callee passes unchanged.
#ifndef POLYRAY_REMOTE_H_
#define POLYRAY_REMOTE_H_

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "polyray/codec.h"
#include "polyray/internal/function_traits.h"
#include "polyray/internal/registry.h"
#include "polyray/yield.h"

namespace polyray {
namespace internal {

/// Throws InvocationError unless `given` arguments fit a callable of `arity`.
inline void CheckArgumentCount(const std::string& name, size_t arity, size_t given) {
  if (arity == given) return;
  throw InvocationError(name + " takes " + std::to_string(arity) +
                        (arity == 1 ? " argument" : " arguments") + " but " +
                        std::to_string(given) + (given == 1 ? " was" : " were") + " given");
}

template <typename Tuple, size_t... I>
Tuple DecodeEach(const std::string& name, const std::vector<ValueView>& args,
                 std::index_sequence<I...>) {
  // Braced initialization decodes left to right, so the first bad argument
  // is the one reported.
  return Tuple{Decode<std::tuple_element_t<I, Tuple>>(
      args[I], "argument " + std::to_string(I) + " of " + name)...};
}

/// Decodes `args` into the tuple of decayed parameter types, after checking
/// the count. Every failure becomes an InvocationError.
template <typename Tuple>
Tuple DecodeArguments(const std::string& name, const std::vector<ValueView>& args) {
  constexpr size_t kArity = std::tuple_size_v<Tuple>;
  CheckArgumentCount(name, kArity, args.size());
  try {
    return DecodeEach<Tuple>(name, args, std::make_index_sequence<kArity>());
  } catch (const InvocationError&) {
    throw;
  } catch (const std::exception& e) {
    throw InvocationError(e.what());
  }
}

/// Runs `call` (the callee) and encodes what it returns as the result of `name`.
template <typename R, typename Call>
Encoded CallAndEncode(const std::string& name, Call&& call) {
  if constexpr (std::is_void_v<R>) {
    call();
    return Encode<std::nullptr_t>(nullptr);
  } else {
    using Value = std::decay_t<R>;
    decltype(auto) result = call();
    try {
      return Encode<Value>(result, "the result of " + name);
    } catch (const std::exception& e) {
      throw InvocationError(e.what());
    }
  }
}

/// Whether a Params tuple is a generator's (first parameter polyray::Yield<T>&):
/// then Item is T and Args the decayed types of the other parameters.
template <typename Tuple>
struct GeneratorShape : std::false_type {};
template <typename First, typename... Rest>
struct GeneratorShape<std::tuple<First, Rest...>> : IsYieldParam<First> {
  using Args = std::tuple<std::decay_t<Rest>...>;
};

/// The registry entry of generator `f` (yield.h): a function or a member function.
template <typename F>
RegisteredEntry MakeGeneratorEntry(const std::string& name, F f) {
  using Traits = FunctionTraits<F>;
  using Shape = GeneratorShape<typename Traits::Params>;
  using Args = typename Shape::Args;
  using Item = typename Shape::Item;
  static_assert(std::is_void_v<typename Traits::Result>,
                "POLYRAY_REMOTE: a generator (first parameter polyray::Yield<T>&) returns void; it sends "
                "its items through the Yield");
  RegisteredEntry entry;
  entry.name = name;
  entry.arity = Traits::kArity - 1;
  entry.kind = Traits::kIsMember ? EntryKind::kMethod : EntryKind::kFunction;
  entry.invoke = [name](void*, const std::vector<ValueView>&) -> Encoded {
    throw InvocationError(name + " is a generator (its first parameter is a polyray::Yield<T>&): call it as "
                                 "a streaming generator (Python: num_returns=\"streaming\"; C++: RemoteGenerator, "
                                 "or Remote of Task(f))");
  };
  auto finish = [name](const Yield<Item>& out) {
    return Encode<int64_t>(static_cast<int64_t>(out.Count()), "the item count of " + name);
  };
  if constexpr (Traits::kIsMember) {
    using C = typename Traits::Class;
    entry.class_type = &typeid(C);
    entry.class_name = ClassPartOf(name);
    if (entry.class_name.empty()) entry.class_name = TypeName(typeid(C));
    entry.generate = [f, name, finish](void* self, const std::vector<ValueView>& args, const ItemSink& sink) {
      Args decoded = DecodeArguments<Args>(name, args);
      C* object = static_cast<C*>(self);
      Yield<Item> out(sink, name);
      std::apply([&](auto&... a) { (object->*f)(out, std::move(a)...); }, decoded);
      return finish(out);
    };
  } else {
    entry.generate = [f, name, finish](void*, const std::vector<ValueView>& args, const ItemSink& sink) {
      Args decoded = DecodeArguments<Args>(name, args);
      Yield<Item> out(sink, name);
      std::apply([&](auto&... a) { f(out, std::move(a)...); }, decoded);
      return finish(out);
    };
  }
  return entry;
}

/// Whether a free function's parameters (a std::tuple of them as written)
/// make it an actor function: its first parameter is a non-const lvalue
/// reference to a class, the instance of the actor it runs with
/// (`int Bump(Counter& c, int n)`, called with handle.Call(&Bump)).
template <typename Params>
struct ActorFunctionTraits {
  static constexpr bool kIs = false;
  using Rest = Params;
};
template <typename First, typename... Rest_>
struct ActorFunctionTraits<std::tuple<First, Rest_...>> {
  using Class = std::remove_reference_t<First>;
  static constexpr bool kIs =
      std::is_lvalue_reference_v<First> && !std::is_const_v<Class> && std::is_class_v<Class>;
  /// The parameters after the actor, as written.
  using Rest = std::tuple<Rest_...>;
  /// The types those arguments are decoded into.
  using DecayedRest = std::tuple<std::decay_t<Rest_>...>;
};

/// Whether callable F is an actor function (see ActorFunctionTraits).
template <typename F>
constexpr bool kIsActorFunction =
    !FunctionTraits<F>::kIsMember && ActorFunctionTraits<typename FunctionTraits<F>::Params>::kIs;

/// The registry entry of a callable that is not a generator.
template <typename F>
RegisteredEntry MakePlainEntry(const std::string& name, F f) {
  using Traits = FunctionTraits<F>;
  using R = typename Traits::Result;
  using Args = typename Traits::DecayedParams;
  RegisteredEntry entry;
  entry.name = name;
  entry.arity = Traits::kArity;
  if constexpr (Traits::kIsMember) {
    using C = typename Traits::Class;
    entry.kind = EntryKind::kMethod;
    entry.class_type = &typeid(C);
    entry.class_name = ClassPartOf(name);
    if (entry.class_name.empty()) entry.class_name = TypeName(typeid(C));
    entry.invoke = [f, name](void* self, const std::vector<ValueView>& args) {
      Args decoded = DecodeArguments<Args>(name, args);
      C* object = static_cast<C*>(self);
      return CallAndEncode<R>(name, [&]() -> decltype(auto) {
        return std::apply([&](auto&... a) -> decltype(auto) { return (object->*f)(std::move(a)...); },
                          decoded);
      });
    };
  } else if constexpr (kIsActorFunction<F>) {
    using Actor = ActorFunctionTraits<typename Traits::Params>;
    using C = typename Actor::Class;
    using Rest = typename Actor::DecayedRest;
    entry.kind = EntryKind::kActorFunction;
    entry.arity = Traits::kArity - 1;
    entry.class_type = &typeid(C);
    entry.class_name = TypeName(typeid(C));
    entry.invoke = [f, name](void* self, const std::vector<ValueView>& args) {
      Rest decoded = DecodeArguments<Rest>(name, args);
      C& object = *static_cast<C*>(self);
      return CallAndEncode<R>(name, [&]() -> decltype(auto) {
        return std::apply([&](auto&... a) -> decltype(auto) { return f(object, std::move(a)...); }, decoded);
      });
    };
  } else if constexpr (kIsFactoryResult<R>) {
    using C = std::remove_cv_t<std::remove_pointer_t<R>>;
    entry.kind = EntryKind::kFactory;
    entry.class_type = &typeid(C);
    entry.class_name = ClassPartOf(name);
    if (entry.class_name.empty()) entry.class_name = TypeName(typeid(C));
    entry.create = [f, name](const std::vector<ValueView>& args) -> std::shared_ptr<void> {
      Args decoded = DecodeArguments<Args>(name, args);
      C* instance = std::apply([&](auto&... a) { return f(std::move(a)...); }, decoded);
      if (instance == nullptr) {
        throw InvocationError("the actor factory " + name + " returned a null pointer");
      }
      return std::shared_ptr<void>(instance, [](void* p) { delete static_cast<C*>(p); });
    };
  } else {
    entry.kind = EntryKind::kFunction;
    entry.invoke = [f, name](void*, const std::vector<ValueView>& args) {
      Args decoded = DecodeArguments<Args>(name, args);
      return CallAndEncode<R>(name, [&]() -> decltype(auto) {
        return std::apply([&](auto&... a) -> decltype(auto) { return f(std::move(a)...); }, decoded);
      });
    };
  }
  return entry;
}

/// Builds the registry entry of callable `f` registered as `name`.
template <typename F>
RegisteredEntry MakeEntry(const std::string& name, F f) {
  using Traits = FunctionTraits<F>;
  if constexpr (GeneratorShape<typename Traits::Params>::value) {
    return MakeGeneratorEntry(name, f);
  } else {
    return MakePlainEntry(name, f);
  }
}

/// Whether F is a callable POLYRAY_REMOTE accepts (see FunctionTraits).
template <typename F, typename = void>
struct IsRemoteCallable : std::false_type {};
template <typename F>
struct IsRemoteCallable<F, std::void_t<typename FunctionTraits<F>::Params>> : std::true_type {};

/// Whether every parameter type of a Params tuple is kIsAcceptedParam.
template <typename Tuple>
struct AllParamsAccepted;
template <typename... P>
struct AllParamsAccepted<std::tuple<P...>>
    : std::bool_constant<((kIsAcceptedParam<P> || IsYieldParam<P>::value) && ...)> {};

/// Whether F's parameters can be filled from decoded arguments (an actor
/// function's first one is the actor instead).
template <typename F, bool kActor = kIsActorFunction<F>>
struct ParamsAccepted : AllParamsAccepted<typename FunctionTraits<F>::Params> {};
template <typename F>
struct ParamsAccepted<F, true>
    : AllParamsAccepted<typename ActorFunctionTraits<typename FunctionTraits<F>::Params>::Rest> {};

/// Registers each callable of one POLYRAY_REMOTE line (members of a
/// POLYRAY_REMOTE_IN_GROUP line with `group`); see the file comment.
template <typename... F>
bool RegisterRemoteInGroup(const void* site, const char* group, const char* stringized, F... callables) {
  static_assert((IsRemoteCallable<F>::value && ...),
                "POLYRAY_REMOTE takes functions, actor factories and member functions "
                "(e.g. POLYRAY_REMOTE(Plus1, Counter::Create, &Counter::Add)); an overloaded "
                "function needs a cast to one signature");
  static_assert((ParamsAccepted<F>::value && ...),
                "POLYRAY_REMOTE: a parameter is a non-const lvalue reference; take it by value or "
                "by const reference (arguments are decoded copies)");
  std::vector<std::string> names = SplitRemoteNames(stringized);
  names.resize(sizeof...(F));
  size_t i = 0;
  auto add = [&](auto callable) {
    std::string name = names[i].empty() ? "callable " + std::to_string(i) : names[i];
    RegisteredEntry entry = MakeEntry(name, callable);
    entry.concurrency_group = group;
    Registry::Instance().Add(std::move(entry), CallableKey(callable), site);
    ++i;
  };
  (add(callables), ...);
  return true;
}

/// Registers each callable of one POLYRAY_REMOTE line; see the file comment.
template <typename... F>
bool RegisterRemote(const void* site, const char* stringized, F... callables) {
  return RegisterRemoteInGroup(site, "", stringized, callables...);
}

/// Registers the member functions of one POLYRAY_REMOTE_IN_GROUP line.
template <typename... F>
bool RegisterRemoteMembersInGroup(const void* site, const char* group, const char* stringized, F... callables) {
  static_assert(((IsRemoteCallable<F>::value && FunctionTraits<F>::kIsMember) && ...),
                "POLYRAY_REMOTE_IN_GROUP takes member functions (&Class::Method): a method declares "
                "the concurrency group its calls run in");
  return RegisterRemoteInGroup(site, group, stringized, callables...);
}

}  // namespace internal
}  // namespace polyray

#define POLYRAY_INTERNAL_CAT2(a, b) a##b
#define POLYRAY_INTERNAL_CAT(a, b) POLYRAY_INTERNAL_CAT2(a, b)
#define POLYRAY_INTERNAL_REMOTE(var, names, ...) \
  [[maybe_unused]] static const bool var = ::polyray::internal::RegisterRemote(&var, names, __VA_ARGS__)

#define POLYRAY_INTERNAL_REMOTE_IN_GROUP(var, group, names, ...) \
  [[maybe_unused]] static const bool var =                      \
      ::polyray::internal::RegisterRemoteMembersInGroup(&var, group, names, __VA_ARGS__)

/// Registers free functions, actor factories (functions returning Class*)
/// and member functions (written &Class::Method) under stable names; use at
/// namespace scope, once per callable across a library:
/// `POLYRAY_REMOTE(Plus1, Counter::Create, &Counter::Add);`
#define POLYRAY_REMOTE(...)                                                                  \
  POLYRAY_INTERNAL_REMOTE(POLYRAY_INTERNAL_CAT(polyray_remote_registration_, __COUNTER__), \
                          #__VA_ARGS__, __VA_ARGS__)

/// Registers member functions (as POLYRAY_REMOTE) whose calls run in the
/// actor's concurrency group `group` when the call names none (Ray's
/// `@ray.method(concurrency_group=)`): `POLYRAY_REMOTE_IN_GROUP("io", &Counter::Read);`.
/// The actor must be created with that group (SetConcurrencyGroups,
/// Python's concurrency_groups=), else its creation fails naming both; a
/// call's SetConcurrencyGroup / .options(concurrency_group=) overrides it.
/// A method may also appear in a POLYRAY_REMOTE line.
#define POLYRAY_REMOTE_IN_GROUP(group, ...)                                                             \
  static_assert(sizeof(group) > 1, "POLYRAY_REMOTE_IN_GROUP: the group must be a non-empty string literal"); \
  POLYRAY_INTERNAL_REMOTE_IN_GROUP(POLYRAY_INTERNAL_CAT(polyray_remote_registration_, __COUNTER__), group,  \
                                   #__VA_ARGS__, __VA_ARGS__)

#endif  // POLYRAY_REMOTE_H_

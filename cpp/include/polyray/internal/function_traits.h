// Compile-time facts about the callables POLYRAY_REMOTE accepts: free
// functions (plain or noexcept) and member functions (plain, const, noexcept).
//
// Invariants:
//  - FunctionTraits<F> is defined only for those pointer types; for any other
//    F it has no members, so it can be used in SFINAE contexts.
//  - Params lists the declared parameter types as written (references kept);
//    DecayedParams the types arguments are decoded into.
#ifndef POLYRAY_INTERNAL_FUNCTION_TRAITS_H_
#define POLYRAY_INTERNAL_FUNCTION_TRAITS_H_

#include <cstddef>
#include <tuple>
#include <type_traits>

namespace polyray {
namespace internal {

/// Facts shared by every callable kind.
template <typename R, typename... P>
struct SignatureTraits {
  /// The declared result type.
  using Result = R;
  /// The declared parameter types.
  using Params = std::tuple<P...>;
  /// The types the arguments are decoded into (references and cv removed).
  using DecayedParams = std::tuple<std::decay_t<P>...>;
  /// R(P...), the signature callers are typed with.
  using Signature = R(P...);
  /// Number of parameters.
  static constexpr size_t kArity = sizeof...(P);
};

/// Facts about a function pointer or member function pointer type F.
template <typename F>
struct FunctionTraits {};

template <typename R, typename... P>
struct FunctionTraits<R (*)(P...)> : SignatureTraits<R, P...> {
  static constexpr bool kIsMember = false;
  using Class = void;
};
template <typename R, typename... P>
struct FunctionTraits<R (*)(P...) noexcept> : FunctionTraits<R (*)(P...)> {};

template <typename C, typename R, typename... P>
struct FunctionTraits<R (C::*)(P...)> : SignatureTraits<R, P...> {
  static constexpr bool kIsMember = true;
  /// The class the member belongs to.
  using Class = C;
};
template <typename C, typename R, typename... P>
struct FunctionTraits<R (C::*)(P...) const> : FunctionTraits<R (C::*)(P...)> {};
template <typename C, typename R, typename... P>
struct FunctionTraits<R (C::*)(P...) noexcept> : FunctionTraits<R (C::*)(P...)> {};
template <typename C, typename R, typename... P>
struct FunctionTraits<R (C::*)(P...) const noexcept> : FunctionTraits<R (C::*)(P...)> {};

/// Whether a free function returning R is an actor factory: it returns a
/// pointer to a class, which becomes the actor's state.
template <typename R>
constexpr bool kIsFactoryResult =
    std::is_pointer_v<R> && std::is_class_v<std::remove_cv_t<std::remove_pointer_t<R>>>;

/// Whether a parameter type can be filled from a decoded argument (a
/// non-const lvalue reference could only bind to a temporary copy, which
/// would silently drop the callee's writes; it is rejected at compile time).
template <typename P>
constexpr bool kIsAcceptedParam =
    !std::is_lvalue_reference_v<P> || std::is_const_v<std::remove_reference_t<P>>;

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_INTERNAL_FUNCTION_TRAITS_H_

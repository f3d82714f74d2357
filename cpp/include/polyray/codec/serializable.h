// User structs: POLYRAY_SERIALIZABLE(Type, field1, field2, ...) declares a
// struct's fields so that it travels as a msgpack array of the fields in
// order (the same form as Java's @XlangStruct-style arrays: a Python callee
// sees a list).
//
// Usage, at namespace scope, right after the struct and in its namespace
// (the codec finds the declarations by argument-dependent lookup):
//
//   namespace geo {
//   struct Point { double x; double y; };
//   POLYRAY_SERIALIZABLE(Point, x, y);
//   }  // namespace geo
//
// The fields must be accessible (public), default-constructible for
// decoding, and of types of the mapping (nested serializable structs too).
// Up to 32 fields. A type name with a comma (a template) needs an alias.
//
// Invariants:
//  - Encoding writes an array of exactly the declared fields, in order.
//  - Decoding requires an array of exactly that many elements; a mismatch
//    names the struct, its field count and names; a failing field adds
//    ".name" to the place in the error.
#ifndef POLYRAY_CODEC_SERIALIZABLE_H_
#define POLYRAY_CODEC_SERIALIZABLE_H_

#include <cstddef>
#include <string>
#include <tuple>
#include <typeinfo>
#include <utility>

#include "polyray/codec/containers.h"
#include "polyray/codec/scalars.h"
#include "polyray/codec/wire.h"
#include "polyray/internal/errors.h"

// ---- preprocessor helpers: "o.a, o.b, ..." for up to 32 names ------------
#define POLYRAY_PP_NARGS(...) POLYRAY_PP_NARGS_(__VA_ARGS__, 32,31,30,29,28,27,26,25,24,23,22,21,20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1,0)
#define POLYRAY_PP_NARGS_(_1,_2,_3,_4,_5,_6,_7,_8,_9,_10,_11,_12,_13,_14,_15,_16,_17,_18,_19,_20,_21,_22,_23,_24,_25,_26,_27,_28,_29,_30,_31,_32, N, ...) N
#define POLYRAY_PP_F_1(o, a) o.a
#define POLYRAY_PP_F_2(o, a, ...) o.a, POLYRAY_PP_F_1(o, __VA_ARGS__)
#define POLYRAY_PP_F_3(o, a, ...) o.a, POLYRAY_PP_F_2(o, __VA_ARGS__)
#define POLYRAY_PP_F_4(o, a, ...) o.a, POLYRAY_PP_F_3(o, __VA_ARGS__)
#define POLYRAY_PP_F_5(o, a, ...) o.a, POLYRAY_PP_F_4(o, __VA_ARGS__)
#define POLYRAY_PP_F_6(o, a, ...) o.a, POLYRAY_PP_F_5(o, __VA_ARGS__)
#define POLYRAY_PP_F_7(o, a, ...) o.a, POLYRAY_PP_F_6(o, __VA_ARGS__)
#define POLYRAY_PP_F_8(o, a, ...) o.a, POLYRAY_PP_F_7(o, __VA_ARGS__)
#define POLYRAY_PP_F_9(o, a, ...) o.a, POLYRAY_PP_F_8(o, __VA_ARGS__)
#define POLYRAY_PP_F_10(o, a, ...) o.a, POLYRAY_PP_F_9(o, __VA_ARGS__)
#define POLYRAY_PP_F_11(o, a, ...) o.a, POLYRAY_PP_F_10(o, __VA_ARGS__)
#define POLYRAY_PP_F_12(o, a, ...) o.a, POLYRAY_PP_F_11(o, __VA_ARGS__)
#define POLYRAY_PP_F_13(o, a, ...) o.a, POLYRAY_PP_F_12(o, __VA_ARGS__)
#define POLYRAY_PP_F_14(o, a, ...) o.a, POLYRAY_PP_F_13(o, __VA_ARGS__)
#define POLYRAY_PP_F_15(o, a, ...) o.a, POLYRAY_PP_F_14(o, __VA_ARGS__)
#define POLYRAY_PP_F_16(o, a, ...) o.a, POLYRAY_PP_F_15(o, __VA_ARGS__)
#define POLYRAY_PP_F_17(o, a, ...) o.a, POLYRAY_PP_F_16(o, __VA_ARGS__)
#define POLYRAY_PP_F_18(o, a, ...) o.a, POLYRAY_PP_F_17(o, __VA_ARGS__)
#define POLYRAY_PP_F_19(o, a, ...) o.a, POLYRAY_PP_F_18(o, __VA_ARGS__)
#define POLYRAY_PP_F_20(o, a, ...) o.a, POLYRAY_PP_F_19(o, __VA_ARGS__)
#define POLYRAY_PP_F_21(o, a, ...) o.a, POLYRAY_PP_F_20(o, __VA_ARGS__)
#define POLYRAY_PP_F_22(o, a, ...) o.a, POLYRAY_PP_F_21(o, __VA_ARGS__)
#define POLYRAY_PP_F_23(o, a, ...) o.a, POLYRAY_PP_F_22(o, __VA_ARGS__)
#define POLYRAY_PP_F_24(o, a, ...) o.a, POLYRAY_PP_F_23(o, __VA_ARGS__)
#define POLYRAY_PP_F_25(o, a, ...) o.a, POLYRAY_PP_F_24(o, __VA_ARGS__)
#define POLYRAY_PP_F_26(o, a, ...) o.a, POLYRAY_PP_F_25(o, __VA_ARGS__)
#define POLYRAY_PP_F_27(o, a, ...) o.a, POLYRAY_PP_F_26(o, __VA_ARGS__)
#define POLYRAY_PP_F_28(o, a, ...) o.a, POLYRAY_PP_F_27(o, __VA_ARGS__)
#define POLYRAY_PP_F_29(o, a, ...) o.a, POLYRAY_PP_F_28(o, __VA_ARGS__)
#define POLYRAY_PP_F_30(o, a, ...) o.a, POLYRAY_PP_F_29(o, __VA_ARGS__)
#define POLYRAY_PP_F_31(o, a, ...) o.a, POLYRAY_PP_F_30(o, __VA_ARGS__)
#define POLYRAY_PP_F_32(o, a, ...) o.a, POLYRAY_PP_F_31(o, __VA_ARGS__)
#define POLYRAY_PP_CAT(a, b) POLYRAY_PP_CAT_(a, b)
#define POLYRAY_PP_CAT_(a, b) a##b
#define POLYRAY_PP_FIELDS(o, ...) \
  POLYRAY_PP_CAT(POLYRAY_PP_F_, POLYRAY_PP_NARGS(__VA_ARGS__))(o, __VA_ARGS__)

/// Declares the fields of struct `Type` (see the file comment); end it with ';'.
#define POLYRAY_SERIALIZABLE(Type, ...)                                        \
  [[maybe_unused]] inline auto PolyrayFields(Type& polyray_value) {            \
    return std::tie(POLYRAY_PP_FIELDS(polyray_value, __VA_ARGS__));            \
  }                                                                            \
  [[maybe_unused]] inline auto PolyrayFields(const Type& polyray_value) {      \
    return std::tie(POLYRAY_PP_FIELDS(polyray_value, __VA_ARGS__));            \
  }                                                                            \
  [[maybe_unused]] inline const char* PolyrayFieldNames(const Type*) { return #__VA_ARGS__; } \
  static_assert(true, "")

namespace polyray {
namespace internal {

/// Field i of a "x, y, z" list (what the macro stringizes), trimmed.
std::string FieldNameAt(const char* names, size_t i);

/// The codec of a POLYRAY_SERIALIZABLE struct: an array of its fields.
template <typename T>
struct StructCodec {
  using Fields = decltype(PolyrayFields(std::declval<T&>()));
  static constexpr size_t kCount = std::tuple_size_v<Fields>;

  static std::string Name() { return Demangle(typeid(T).name()); }
  static std::string FieldName(size_t i) {
    return FieldNameAt(PolyrayFieldNames(static_cast<const T*>(nullptr)), i);
  }
  static void Encode(Writer& w, const T& v) {
    w.ArrayHeader(kCount);
    EncodeFields(w, PolyrayFields(v), std::make_index_sequence<kCount>{});
  }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, T& out) {
    if (o.type != msgpack::type::ARRAY || o.via.array.size != kCount) {
      ThrowMismatch(o, Name(),
                    "an array of its " + std::to_string(kCount) + " fields: " +
                        PolyrayFieldNames(static_cast<const T*>(nullptr)));
    }
    DecodeFields(o, ctx, PolyrayFields(out), std::make_index_sequence<kCount>{});
  }

 private:
  template <typename Tuple, size_t... I>
  static void EncodeFields(Writer& w, const Tuple& fields, std::index_sequence<I...>) {
    (EncodeAt(w, std::get<I>(fields), [] { return "." + FieldName(I); }), ...);
  }
  template <typename Tuple, size_t... I>
  static void DecodeFields(const msgpack::object& o, const DecodeContext& ctx, Tuple fields,
                           std::index_sequence<I...>) {
    (DecodeAt(o.via.array.ptr[I], ctx, std::get<I>(fields), [] { return "." + FieldName(I); }),
     ...);
  }
};

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_CODEC_SERIALIZABLE_H_

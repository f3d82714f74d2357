// The type mapping for scalars (docs/protocol.md §9): nil, bool, every
// integer type, float/double, enums (as their underlying int), strings, bin,
// std::optional, NativeValue; plus the primary Codec<T>, which also serves
// structs declared with POLYRAY_SERIALIZABLE (codec/serializable.h).
//
// Every Codec<T> has three static members:
//   std::string Name();                                          C++ type name for errors
//   void Encode(Writer&, const T&);                              canonical msgpack
//   void Decode(const msgpack::object&, const DecodeContext&, T&);   or throw CodecMismatch
//
// Invariants:
//  - Integers decode with a range check (uint64 above int64's maximum only
//    into unsigned 64-bit types); floats encode as float64; float/double
//    also accept ints (widening, as Java does) and float32.
//  - Strings encode only when valid UTF-8; bytes go as std::vector<uint8_t>.
#ifndef POLYRAY_CODEC_SCALARS_H_
#define POLYRAY_CODEC_SCALARS_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>

#include "polyray/codec/values.h"
#include "polyray/codec/wire.h"
#include "polyray/internal/errors.h"

namespace polyray {
namespace internal {

/// Always false; delays a static_assert to instantiation.
template <typename T>
constexpr bool kAlwaysFalse = false;

/// Whether T was declared with POLYRAY_SERIALIZABLE (found by ADL).
template <typename T, typename = void>
struct HasPolyrayFields : std::false_type {};
template <typename T>
struct HasPolyrayFields<T, std::void_t<decltype(PolyrayFields(std::declval<T&>()))>>
    : std::true_type {};

template <typename T>
struct StructCodec;  // codec/serializable.h

/// The C++ name of an integer type for messages ("int32_t", "uint64_t", "char").
template <typename T>
std::string IntegerName() {
  if constexpr (std::is_same_v<T, char>) {
    return "char";
  } else {
    std::string name = std::is_signed_v<T> ? "int" : "uint";
    return name + std::to_string(sizeof(T) * 8) + "_t";
  }
}

/// Primary codec: arithmetic types, enums and POLYRAY_SERIALIZABLE structs.
/// Any other type fails to compile with a message saying what to do.
template <typename T>
struct Codec {
  static_assert(std::is_arithmetic_v<T> || std::is_enum_v<T> || HasPolyrayFields<T>::value,
                "polyray: this type has no XLANG form. Use a type of the mapping in "
                "polyray/codec.h, or declare the struct's fields with "
                "POLYRAY_SERIALIZABLE(Type, field1, field2, ...) after it.");

  /// The C++ type name used in error messages.
  static std::string Name() {
    if constexpr (std::is_same_v<T, bool>) {
      return "bool";
    } else if constexpr (std::is_integral_v<T>) {
      return IntegerName<T>();
    } else if constexpr (std::is_same_v<T, float>) {
      return "float";
    } else if constexpr (std::is_floating_point_v<T>) {
      return "double";
    } else if constexpr (std::is_enum_v<T>) {
      return Demangle(typeid(T).name());
    } else {
      return StructCodec<T>::Name();
    }
  }

  /// Writes `v` canonically.
  static void Encode(Writer& w, const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      w.Bool(v);
    } else if constexpr (std::is_integral_v<T>) {
      if constexpr (std::is_signed_v<T>) {
        w.Int(static_cast<int64_t>(v));
      } else {
        w.Uint(static_cast<uint64_t>(v));
      }
    } else if constexpr (std::is_floating_point_v<T>) {
      w.Float(static_cast<double>(v));
    } else if constexpr (std::is_enum_v<T>) {
      using U = std::underlying_type_t<T>;
      Codec<U>::Encode(w, static_cast<U>(v));
    } else {
      StructCodec<T>::Encode(w, v);
    }
  }

  /// Reads `o` into `out`, or throws CodecMismatch.
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, T& out) {
    if constexpr (std::is_same_v<T, bool>) {
      if (o.type != msgpack::type::BOOLEAN) ThrowMismatch(o, Name());
      out = o.via.boolean;
    } else if constexpr (std::is_integral_v<T>) {
      if (o.type == msgpack::type::POSITIVE_INTEGER) {
        if (o.via.u64 > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
          ThrowMismatch(o, Name(), "out of range");
        }
        out = static_cast<T>(o.via.u64);
      } else if (o.type == msgpack::type::NEGATIVE_INTEGER) {
        if constexpr (std::is_unsigned_v<T>) {
          ThrowMismatch(o, Name(), "out of range");
        } else {
          if (o.via.i64 < static_cast<int64_t>(std::numeric_limits<T>::min())) {
            ThrowMismatch(o, Name(), "out of range");
          }
          out = static_cast<T>(o.via.i64);
        }
      } else {
        ThrowMismatch(o, Name());
      }
    } else if constexpr (std::is_floating_point_v<T>) {
      switch (o.type) {
        case msgpack::type::FLOAT64:
        case msgpack::type::FLOAT32:
          out = static_cast<T>(o.via.f64);
          break;
        case msgpack::type::POSITIVE_INTEGER:
          out = static_cast<T>(o.via.u64);
          break;
        case msgpack::type::NEGATIVE_INTEGER:
          out = static_cast<T>(o.via.i64);
          break;
        default:
          ThrowMismatch(o, Name());
      }
    } else if constexpr (std::is_enum_v<T>) {
      using U = std::underlying_type_t<T>;
      U u{};
      Codec<U>::Decode(o, ctx, u);
      out = static_cast<T>(u);
    } else {
      StructCodec<T>::Decode(o, ctx, out);
    }
  }
};

/// nil.
template <>
struct Codec<std::nullptr_t> {
  static std::string Name() { return "std::nullptr_t"; }
  static void Encode(Writer& w, std::nullptr_t) { w.Nil(); }
  static void Decode(const msgpack::object& o, const DecodeContext&, std::nullptr_t& out) {
    if (o.type != msgpack::type::NIL) ThrowMismatch(o, Name());
    out = nullptr;
  }
};

/// str (UTF-8).
template <>
struct Codec<std::string> {
  static std::string Name() { return "std::string"; }
  static void Encode(Writer& w, const std::string& v) { w.Str(v); }
  static void Decode(const msgpack::object& o, const DecodeContext&, std::string& out) {
    if (o.type != msgpack::type::STR) ThrowMismatch(o, Name());
    out.assign(o.via.str.ptr, o.via.str.size);
  }
};

/// str from a view (encode only: a decoded view would outlive its bytes).
template <>
struct Codec<std::string_view> {
  static std::string Name() { return "std::string_view"; }
  static void Encode(Writer& w, std::string_view v) { w.Str(v); }
  template <typename U>
  static void Decode(const msgpack::object&, const DecodeContext&, U&) {
    static_assert(kAlwaysFalse<U>, "polyray: decode strings as std::string");
  }
};

/// str from a C string (encode only).
template <>
struct Codec<const char*> {
  static std::string Name() { return "const char*"; }
  static void Encode(Writer& w, const char* v) { w.Str(v); }
  template <typename U>
  static void Decode(const msgpack::object&, const DecodeContext&, U&) {
    static_assert(kAlwaysFalse<U>, "polyray: decode strings as std::string");
  }
};

/// str from a string literal (encode only).
template <size_t N>
struct Codec<char[N]> {
  static std::string Name() { return "const char*"; }
  static void Encode(Writer& w, const char (&v)[N]) {
    w.Str(std::string_view(v, N > 0 && v[N - 1] == '\0' ? N - 1 : N));
  }
  template <typename U>
  static void Decode(const msgpack::object&, const DecodeContext&, U&) {
    static_assert(kAlwaysFalse<U>, "polyray: decode strings as std::string");
  }
};

/// nil <-> empty; anything else is T.
template <typename T>
struct Codec<std::optional<T>> {
  static std::string Name() { return "std::optional<" + Codec<T>::Name() + ">"; }
  static void Encode(Writer& w, const std::optional<T>& v) {
    if (v) {
      Codec<T>::Encode(w, *v);
    } else {
      w.Nil();
    }
  }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, std::optional<T>& out) {
    if (o.type == msgpack::type::NIL) {
      out.reset();
      return;
    }
    if (!out) out.emplace();
    Codec<T>::Decode(o, ctx, *out);
  }
};

/// ext 4, kept opaque.
template <>
struct Codec<NativeValue> {
  static std::string Name() { return "polyray::NativeValue"; }
  static void Encode(Writer& w, const NativeValue& v) { w.Native(v.language, v.data); }
  static void Decode(const msgpack::object& o, const DecodeContext&, NativeValue& out) {
    if (!IsExt(o, kExtNative)) ThrowMismatch(o, Name());
    ParseNative(o, &out);
  }
};

/// ARROW is a whole-value format: inside another value it has no XLANG form.
template <>
struct Codec<ArrowIpc> {
  static std::string Name() { return "polyray::ArrowIpc"; }
  static void Encode(Writer&, const ArrowIpc&) {
    ThrowEncodeMismatch(Name(), "is ARROW only as a whole value, not inside another value");
  }
  static void Decode(const msgpack::object& o, const DecodeContext&, ArrowIpc&) {
    ThrowMismatch(o, Name(), "an Arrow table arrives only as a whole value (format ARROW)");
  }
};

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_CODEC_SCALARS_H_

// The C++ value codec (docs/protocol.md §8-10): C++ values to
// XLANG envelopes and back.
//
//   internal::Encoded e = internal::Encode(value);            // XLANG (ARROW for ArrowIpc)
//   T v = internal::Decode<T>(view, "argument 2 of Plus1");   // any format, see Decode
//
// Type mapping (C++ <-> XLANG):
//   std::nullptr_t, empty std::optional <-> nil      bool <-> bool
//   every integer type <-> int (range-checked; uint64_t takes values above int64 max)
//   float, double <-> float64 (float32 and ints accepted on decode)
//   enums <-> int (their underlying value)
//   std::string <-> str (UTF-8; const char*, std::string_view encode too)
//   std::vector<uint8_t> <-> bin
//   std::vector<T>, std::list<T>, std::array<T,N>, std::tuple<...>, std::pair <-> array
//   std::vector<T> for numbers T other than bool/uint8_t <-> 1-D ndarray ext 3
//     (decodes from an ndarray of T's dtype or a lossless widening, or an array)
//   polyray::NdArray<T> (owning), polyray::NdSpan<T> (zero-copy view) <-> ndarray ext 3
//   std::map, std::unordered_map <-> map (any scalar key type)
//   polyray::ObjectRef<T> <-> ext 1        ActorHandle<T>, ActorHandleXlang <-> ext 2
//   polyray::NativeValue <-> ext 4 (opaque, re-encoded byte for byte)
//   structs declared with POLYRAY_SERIALIZABLE(Type, fields...) <-> array of the fields
//   polyray::XValue <-> any XLANG value (dynamic)
//   polyray::ArrowIpc <-> format ARROW (whole value only)
//
// Invariants:
//  - Output is canonical msgpack (§10.1): equal values give equal bytes in
//    every language; ndarray data of at least `oob_threshold` bytes goes to
//    Encoded::buffers; every ObjectRef/actor handle inside is listed in
//    nested_refs / nested_handles.
//  - Decoding never copies out-of-band ndarray data into an NdSpan; other
//    targets copy what they own.
//  - Errors are polyray::TypeError naming the value (`what`), the place
//    inside it (`[3]["k"]`, `.field`), the XLANG type found and the C++ type
//    expected; ERROR values throw the error they carry (ThrowErrorRecord).
#ifndef POLYRAY_CODEC_H_
#define POLYRAY_CODEC_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "polyray/codec/containers.h"
#include "polyray/codec/ndarray.h"
#include "polyray/codec/refs.h"
#include "polyray/codec/scalars.h"
#include "polyray/codec/serializable.h"
#include "polyray/codec/values.h"
#include "polyray/codec/wire.h"
#include "polyray/codec/xvalue.h"
#include "polyray/exceptions.h"
#include "polyray/internal/runtime.h"

namespace polyray {
namespace internal {

/// Bytes of an encoded value: body plus buffers (Python's Encoded.size).
inline size_t EncodedSize(const Encoded& e) {
  size_t n = e.body.size();
  for (const auto& b : e.buffers) n += b.size();
  return n;
}

/// [[noreturn]] TypeError for a PYTHON-format value decoded in C++.
[[noreturn]] void ThrowPythonFormat(const std::string& what, const std::string& expected);
/// [[noreturn]] TypeError for a value of `format` that cannot become `expected`.
[[noreturn]] void ThrowWrongFormat(const std::string& what, Format format,
                                   const std::string& expected);

/// Encodes `value` for any consumer: XLANG (ARROW for an ArrowIpc). `what`
/// names the value in errors ("argument 2 of Plus1"); ndarray data of at
/// least `oob_threshold` bytes goes out of band. Throws polyray::TypeError
/// for a value with no XLANG form at run time (a string that is not UTF-8,
/// an empty ObjectRef, an ArrowIpc inside another value).
template <typename T>
Encoded Encode(const T& value, std::string_view what = "value",
               size_t oob_threshold = kDefaultOobThreshold) {
  using U = std::remove_cv_t<T>;
  Encoded enc;
  if constexpr (std::is_same_v<U, ArrowIpc>) {
    enc.format = Format::kArrow;
    enc.body.assign(value.bytes());
  } else {
    enc.format = Format::kXlang;
    Writer w(&enc, oob_threshold);
    try {
      Codec<U>::Encode(w, value);
    } catch (CodecMismatch& m) {
      ThrowEncodeError(what, m);
    }
  }
  return enc;
}

/// Decodes a received value into T (default-constructible). XLANG decodes
/// by the type mapping; RAW into std::vector<uint8_t>, std::string or XValue
/// (a bin); ARROW into ArrowIpc (a view holding view.keepalive); ERROR
/// throws the error it carries (ThrowErrorRecord); PYTHON throws TypeError
/// (a pickled value has no C++ form). Mismatches throw polyray::TypeError
/// naming `what` and the place inside the value.
template <typename T>
T Decode(const ValueView& view, const std::string& what) {
  using U = std::remove_cv_t<T>;
  switch (view.format) {
    case Format::kError:
      ThrowErrorRecord(view.body);
    case Format::kPython:
      ThrowPythonFormat(what, Codec<U>::Name());
    case Format::kRaw:
      if constexpr (std::is_same_v<U, std::vector<uint8_t>>) {
        return U(view.body.begin(), view.body.end());
      } else if constexpr (std::is_same_v<U, std::string>) {
        return U(view.body);
      } else if constexpr (std::is_same_v<U, XValue>) {
        return XValue::Bin(std::string(view.body));
      } else {
        ThrowWrongFormat(what, view.format, Codec<U>::Name());
      }
    case Format::kArrow:
      if constexpr (std::is_same_v<U, ArrowIpc>) {
        return ArrowIpc(view.body, view.keepalive);
      } else {
        ThrowWrongFormat(what, view.format, Codec<U>::Name());
      }
    case Format::kXlang:
      break;
    default:
      ThrowWrongFormat(what, view.format, Codec<U>::Name());
  }
  if constexpr (std::is_same_v<U, ArrowIpc>) {
    ThrowWrongFormat(what, view.format, Codec<U>::Name());
  } else {
    msgpack::object_handle handle = ParseXlangBody(view.body, what);
    DecodeContext ctx{&view};
    U out{};
    try {
      Codec<U>::Decode(handle.get(), ctx, out);
    } catch (CodecMismatch& m) {
      ThrowDecodeError(what, m);
    }
    return out;
  }
}

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_CODEC_H_

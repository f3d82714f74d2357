// polyray::XValue: any XLANG value, dynamically typed. Decodes every valid
// XLANG body without touching the runtime (ObjectRefs and actor handles stay
// serialized protocol bytes, unknown extension types stay opaque) and
// re-encodes it canonically, byte for byte for a canonical input.
//
// Invariants:
//  - An int that fits int64 is kInt; kUint only holds values above int64's
//    maximum (so equal numbers compare equal whatever their wire form).
//  - Floats are float64 (a float32 on the wire is widened); == compares
//    their bit patterns, so NaN == NaN and 0.0 != -0.0.
//  - Maps keep the sender's order (a vector of key/value pairs).
//  - An ndarray holds its own copy of the data (see NdSpan for views).
#ifndef POLYRAY_CODEC_XVALUE_H_
#define POLYRAY_CODEC_XVALUE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "polyray/codec/scalars.h"
#include "polyray/codec/values.h"
#include "polyray/codec/wire.h"

namespace polyray {

/// A dynamically typed XLANG value (see the file comment).
class XValue {
 public:
  /// What the value is.
  enum class Kind {
    kNil, kBool, kInt, kUint, kFloat, kStr, kBin, kArray, kMap,
    kNdArray,  ///< dtype(), shape(), bytes() = C-order little-endian data
    kRef,      ///< bytes() = serialized polyray.rpc.ObjectRef
    kActor,    ///< bytes() = serialized polyray.rpc.ActorHandle
    kNative,   ///< language(), bytes() = the opaque data
    kExt,      ///< ext_type(), bytes() = payload (an extension polyray does not know)
  };
  /// Elements of an array.
  using Array = std::vector<XValue>;
  /// Entries of a map, in order.
  using Map = std::vector<std::pair<XValue, XValue>>;

  /// nil.
  XValue() = default;
  /// nil.
  static XValue Nil() { return XValue(); }
  /// A bool.
  static XValue Bool(bool v);
  /// An int.
  static XValue Int(int64_t v);
  /// An unsigned int (kInt when it fits int64).
  static XValue Uint(uint64_t v);
  /// A float64.
  static XValue Float(double v);
  /// A str (UTF-8 checked when encoding).
  static XValue Str(std::string v);
  /// A bin.
  static XValue Bin(std::string bytes);
  /// An array.
  static XValue MakeArray(Array items);
  /// A map (entries in this order).
  static XValue MakeMap(Map entries);
  /// An ndarray; throws TypeError when data's size disagrees with shape.
  static XValue NdArray(DType dtype, std::vector<uint64_t> shape, std::string data);
  /// An ObjectRef, as its serialized polyray.rpc.ObjectRef.
  static XValue Ref(std::string serialized);
  /// An actor handle, as its serialized polyray.rpc.ActorHandle.
  static XValue Actor(std::string serialized);
  /// A native value of another language.
  static XValue Native(NativeValue v);
  /// An unknown extension type, kept as it is.
  static XValue Ext(int8_t type, std::string payload);

  /// What the value is.
  Kind kind() const { return kind_; }
  /// The kind's name ("nil", "int", "ndarray", ...).
  static const char* KindName(Kind kind);
  /// Accessors: each throws polyray::TypeError when the kind differs.
  bool as_bool() const;
  /// kInt's value.
  int64_t as_int() const;
  /// kUint's value, or a non-negative kInt's.
  uint64_t as_uint() const;
  /// kFloat's value.
  double as_float() const;
  /// str, bin, ndarray data, ref/actor bytes, native data, ext payload.
  const std::string& bytes() const;
  /// kArray's elements.
  const Array& items() const;
  /// kArray's elements, writable.
  Array& items();
  /// kMap's entries.
  const Map& entries() const;
  /// kMap's entries, writable.
  Map& entries();
  /// kNdArray's dtype.
  DType dtype() const;
  /// kNdArray's shape.
  const std::vector<uint64_t>& shape() const;
  /// kNative's language.
  Language language() const;
  /// kExt's type code.
  int8_t ext_type() const;

  /// Same kind and contents (floats by bit pattern).
  bool operator==(const XValue& o) const;
  /// Not equal.
  bool operator!=(const XValue& o) const { return !(*this == o); }
  /// A readable rendering for messages and tests (JSON-like, bins in hex).
  std::string ToString() const;

  /// Writes the value canonically (internal; used by Codec<XValue>).
  void EncodeTo(internal::Writer& w) const;
  /// Reads any XLANG msgpack object (internal; used by Codec<XValue>).
  static XValue FromObject(const msgpack::object& o, const internal::DecodeContext& ctx);

 private:
  void Expect(Kind k) const;
  /// A value of `kind` whose payload is `bytes` (str, bin, ref, actor).
  static XValue OfBytes(Kind kind, std::string bytes);

  Kind kind_ = Kind::kNil;
  union {
    bool b;
    int64_t i;
    uint64_t u;
    double f;
  } scalar_{};
  int8_t ext_type_ = 0;
  Language language_ = Language::kPython;
  DType dtype_ = DType::kFloat64;
  std::string bytes_;
  std::vector<uint64_t> shape_;
  Array items_;
  Map entries_;
};

namespace internal {

/// Any XLANG value.
template <>
struct Codec<XValue> {
  static std::string Name() { return "polyray::XValue"; }
  static void Encode(Writer& w, const XValue& v) { v.EncodeTo(w); }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, XValue& out) {
    out = XValue::FromObject(o, ctx);
  }
};

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_CODEC_XVALUE_H_

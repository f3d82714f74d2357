// polyray::XValue (polyray/codec/xvalue.h): building, reading, comparing,
// decoding from msgpack objects and encoding canonically.
//
// Invariants:
//  - FromObject never calls the runtime: refs and handles stay bytes.
//  - EncodeTo(FromObject(x)) reproduces a canonical x byte for byte,
//    including out-of-band ndarrays when the threshold is the sender's.
//  - Errors inside nested values carry their place ([i], ["k"]).
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "polyray/codec.h"

namespace polyray {

using internal::CodecMismatch;

XValue XValue::Bool(bool v) {
  XValue x;
  x.kind_ = Kind::kBool;
  x.scalar_.b = v;
  return x;
}

XValue XValue::Int(int64_t v) {
  XValue x;
  x.kind_ = Kind::kInt;
  x.scalar_.i = v;
  return x;
}

XValue XValue::Uint(uint64_t v) {
  if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Int(static_cast<int64_t>(v));
  }
  XValue x;
  x.kind_ = Kind::kUint;
  x.scalar_.u = v;
  return x;
}

XValue XValue::Float(double v) {
  XValue x;
  x.kind_ = Kind::kFloat;
  x.scalar_.f = v;
  return x;
}

XValue XValue::OfBytes(Kind kind, std::string bytes) {
  XValue x;
  x.kind_ = kind;
  x.bytes_ = std::move(bytes);
  return x;
}

XValue XValue::Str(std::string v) { return OfBytes(Kind::kStr, std::move(v)); }

XValue XValue::Bin(std::string bytes) { return OfBytes(Kind::kBin, std::move(bytes)); }

XValue XValue::MakeArray(Array items) {
  XValue x;
  x.kind_ = Kind::kArray;
  x.items_ = std::move(items);
  return x;
}

XValue XValue::MakeMap(Map entries) {
  XValue x;
  x.kind_ = Kind::kMap;
  x.entries_ = std::move(entries);
  return x;
}

XValue XValue::NdArray(DType dtype, std::vector<uint64_t> shape, std::string data) {
  const size_t count = internal::ShapeCount(shape);
  if (data.size() != count * DTypeSize(dtype)) {
    throw TypeError("XValue::NdArray: " + std::to_string(data.size()) + " bytes of data, the shape needs " +
                    std::to_string(count * DTypeSize(dtype)));
  }
  XValue x;
  x.kind_ = Kind::kNdArray;
  x.dtype_ = dtype;
  x.shape_ = std::move(shape);
  x.bytes_ = std::move(data);
  return x;
}

XValue XValue::Ref(std::string serialized) { return OfBytes(Kind::kRef, std::move(serialized)); }

XValue XValue::Actor(std::string serialized) { return OfBytes(Kind::kActor, std::move(serialized)); }

XValue XValue::Native(NativeValue v) {
  XValue x;
  x.kind_ = Kind::kNative;
  x.language_ = v.language;
  x.bytes_ = std::move(v.data);
  return x;
}

XValue XValue::Ext(int8_t type, std::string payload) {
  XValue x;
  x.kind_ = Kind::kExt;
  x.ext_type_ = type;
  x.bytes_ = std::move(payload);
  return x;
}

const char* XValue::KindName(Kind kind) {
  switch (kind) {
    case Kind::kNil: return "nil";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kUint: return "uint";
    case Kind::kFloat: return "float";
    case Kind::kStr: return "str";
    case Kind::kBin: return "bin";
    case Kind::kArray: return "array";
    case Kind::kMap: return "map";
    case Kind::kNdArray: return "ndarray";
    case Kind::kRef: return "ref";
    case Kind::kActor: return "actor";
    case Kind::kNative: return "native";
    case Kind::kExt: return "ext";
  }
  return "?";
}

void XValue::Expect(Kind k) const {
  if (kind_ != k) {
    throw TypeError(std::string("XValue is ") + KindName(kind_) + ", not " + KindName(k));
  }
}

bool XValue::as_bool() const { Expect(Kind::kBool); return scalar_.b; }
int64_t XValue::as_int() const { Expect(Kind::kInt); return scalar_.i; }
uint64_t XValue::as_uint() const {
  if (kind_ == Kind::kInt && scalar_.i >= 0) return static_cast<uint64_t>(scalar_.i);
  Expect(Kind::kUint);
  return scalar_.u;
}
double XValue::as_float() const { Expect(Kind::kFloat); return scalar_.f; }

const std::string& XValue::bytes() const {
  switch (kind_) {
    case Kind::kStr: case Kind::kBin: case Kind::kNdArray: case Kind::kRef:
    case Kind::kActor: case Kind::kNative: case Kind::kExt:
      return bytes_;
    default:
      throw TypeError(std::string("XValue is ") + KindName(kind_) + ", which has no bytes");
  }
}

const XValue::Array& XValue::items() const { Expect(Kind::kArray); return items_; }
XValue::Array& XValue::items() { Expect(Kind::kArray); return items_; }
const XValue::Map& XValue::entries() const { Expect(Kind::kMap); return entries_; }
XValue::Map& XValue::entries() { Expect(Kind::kMap); return entries_; }
DType XValue::dtype() const { Expect(Kind::kNdArray); return dtype_; }
const std::vector<uint64_t>& XValue::shape() const { Expect(Kind::kNdArray); return shape_; }
Language XValue::language() const { Expect(Kind::kNative); return language_; }
int8_t XValue::ext_type() const { Expect(Kind::kExt); return ext_type_; }

bool XValue::operator==(const XValue& o) const {
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::kNil: return true;
    case Kind::kBool: return scalar_.b == o.scalar_.b;
    case Kind::kInt: return scalar_.i == o.scalar_.i;
    case Kind::kUint: return scalar_.u == o.scalar_.u;
    case Kind::kFloat: return std::memcmp(&scalar_.f, &o.scalar_.f, sizeof(double)) == 0;
    case Kind::kStr: case Kind::kBin: case Kind::kRef: case Kind::kActor:
      return bytes_ == o.bytes_;
    case Kind::kArray: return items_ == o.items_;
    case Kind::kMap: return entries_ == o.entries_;
    case Kind::kNdArray: return dtype_ == o.dtype_ && shape_ == o.shape_ && bytes_ == o.bytes_;
    case Kind::kNative: return language_ == o.language_ && bytes_ == o.bytes_;
    case Kind::kExt: return ext_type_ == o.ext_type_ && bytes_ == o.bytes_;
  }
  return false;
}

namespace {

std::string Hex(const std::string& b) {
  return internal::ToHex(b);
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string XValue::ToString() const {
  switch (kind_) {
    case Kind::kNil: return "nil";
    case Kind::kBool: return scalar_.b ? "true" : "false";
    case Kind::kInt: return std::to_string(scalar_.i);
    case Kind::kUint: return std::to_string(scalar_.u);
    case Kind::kFloat: {
      char buf[40];
      std::snprintf(buf, sizeof(buf), "%.17g", scalar_.f);
      return buf;
    }
    case Kind::kStr: return Quote(bytes_);
    case Kind::kBin: return "bin:" + Hex(bytes_);
    case Kind::kArray: {
      std::string s = "[";
      for (size_t i = 0; i < items_.size(); ++i) s += (i ? ", " : "") + items_[i].ToString();
      return s + "]";
    }
    case Kind::kMap: {
      std::string s = "{";
      for (size_t i = 0; i < entries_.size(); ++i) {
        s += (i ? ", " : "") + entries_[i].first.ToString() + ": " + entries_[i].second.ToString();
      }
      return s + "}";
    }
    case Kind::kNdArray: {
      std::string s = std::string("ndarray(") + DTypeString(dtype_) + ", [";
      for (size_t i = 0; i < shape_.size(); ++i) s += (i ? ", " : "") + std::to_string(shape_[i]);
      return s + "], " + Hex(bytes_) + ")";
    }
    case Kind::kRef: return "ref:" + Hex(bytes_);
    case Kind::kActor: return "actor:" + Hex(bytes_);
    case Kind::kNative: return "native(" + std::to_string(static_cast<int>(language_)) + ", " + Hex(bytes_) + ")";
    case Kind::kExt: return "ext(" + std::to_string(ext_type_) + ", " + Hex(bytes_) + ")";
  }
  return "?";
}

void XValue::EncodeTo(internal::Writer& w) const {
  switch (kind_) {
    case Kind::kNil: w.Nil(); return;
    case Kind::kBool: w.Bool(scalar_.b); return;
    case Kind::kInt: w.Int(scalar_.i); return;
    case Kind::kUint: w.Uint(scalar_.u); return;
    case Kind::kFloat: w.Float(scalar_.f); return;
    case Kind::kStr: w.Str(bytes_); return;
    case Kind::kBin: w.Bin(bytes_.data(), bytes_.size()); return;
    case Kind::kArray:
      w.ArrayHeader(items_.size());
      for (size_t i = 0; i < items_.size(); ++i) {
        try {
          items_[i].EncodeTo(w);
        } catch (CodecMismatch& m) {
          m.path.push_back(internal::IndexSegment(i));
          throw;
        }
      }
      return;
    case Kind::kMap:
      w.MapHeader(entries_.size());
      for (size_t i = 0; i < entries_.size(); ++i) {
        const auto& kv = entries_[i];
        try {
          kv.first.EncodeTo(w);
        } catch (CodecMismatch& m) {
          m.path.push_back("[<key " + std::to_string(i) + ">]");
          throw;
        }
        try {
          kv.second.EncodeTo(w);
        } catch (CodecMismatch& m) {
          m.path.push_back(kv.first.kind_ == Kind::kStr ? "[" + Quote(kv.first.bytes_) + "]"
                                                         : "[" + kv.first.ToString() + "]");
          throw;
        }
      }
      return;
    case Kind::kNdArray:
      w.NdArray(dtype_, shape_.data(), shape_.size(), bytes_.data(), bytes_.size());
      return;
    case Kind::kRef: w.Ref(bytes_); return;
    case Kind::kActor: w.Actor(bytes_); return;
    case Kind::kNative: w.Native(language_, bytes_); return;
    case Kind::kExt: w.Ext(ext_type_, bytes_); return;
  }
}

XValue XValue::FromObject(const msgpack::object& o, const internal::DecodeContext& ctx) {
  switch (o.type) {
    case msgpack::type::NIL: return Nil();
    case msgpack::type::BOOLEAN: return Bool(o.via.boolean);
    case msgpack::type::POSITIVE_INTEGER: return Uint(o.via.u64);
    case msgpack::type::NEGATIVE_INTEGER: return Int(o.via.i64);
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return Float(o.via.f64);
    case msgpack::type::STR: return Str(std::string(o.via.str.ptr, o.via.str.size));
    case msgpack::type::BIN: return Bin(std::string(o.via.bin.ptr, o.via.bin.size));
    case msgpack::type::ARRAY: {
      XValue x;
      x.kind_ = Kind::kArray;
      x.items_.reserve(o.via.array.size);
      for (uint32_t i = 0; i < o.via.array.size; ++i) {
        try {
          x.items_.push_back(FromObject(o.via.array.ptr[i], ctx));
        } catch (CodecMismatch& m) {
          m.path.push_back(internal::IndexSegment(i));
          throw;
        }
      }
      return x;
    }
    case msgpack::type::MAP: {
      XValue x;
      x.kind_ = Kind::kMap;
      x.entries_.reserve(o.via.map.size);
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        const msgpack::object_kv& kv = o.via.map.ptr[i];
        try {
          x.entries_.emplace_back(FromObject(kv.key, ctx), FromObject(kv.val, ctx));
        } catch (CodecMismatch& m) {
          m.path.push_back(internal::MapKeySegment(kv.key));
          throw;
        }
      }
      return x;
    }
    case msgpack::type::EXT:
      break;
  }
  const int8_t type = o.via.ext.type();
  switch (type) {
    case internal::kExtObjectRef: return Ref(std::string(o.via.ext.data(), o.via.ext.size));
    case internal::kExtActorHandle: return Actor(std::string(o.via.ext.data(), o.via.ext.size));
    case internal::kExtNdArray: {
      internal::NdArrayRef a;
      internal::ParseNdArray(o, ctx, "polyray::XValue", &a);
      XValue x;
      x.kind_ = Kind::kNdArray;
      x.dtype_ = a.dtype;
      x.shape_ = std::move(a.shape);
      x.bytes_.assign(a.data, a.nbytes);
      return x;
    }
    case internal::kExtNative: {
      NativeValue v;
      internal::ParseNative(o, &v);
      return Native(std::move(v));
    }
    default:
      return Ext(type, std::string(o.via.ext.data(), o.via.ext.size));
  }
}

}  // namespace polyray

// The non-template half of the codec's wire machinery (polyray/codec/wire.h):
// dtypes, the ndarray and native-value extension writers, parsing of ext 3 /
// ext 4 payloads and of whole XLANG bodies.
//
// Invariants:
//  - Extension payloads are written canonically (§10.1) and read in any
//    valid msgpack form (a hand-written cursor: no allocation per ndarray).
//  - ParseNdArray checks dtype, shape and that the data has exactly
//    prod(shape) x itemsize bytes (in band, or the named out-of-band buffer),
//    with overflow checks, before any decoder reads it.
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "polyray/codec/wire.h"
#include "polyray/exceptions.h"

namespace polyray {

namespace {

struct DTypeInfo {
  const char* text;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {"|b1", 1}, {"|i1", 1}, {"|u1", 1}, {"<i2", 2}, {"<u2", 2}, {"<i4", 4},
    {"<u4", 4}, {"<i8", 8}, {"<u8", 8}, {"<f4", 4}, {"<f8", 8},
};

/// A fixed stack buffer that msgpack's packer can write to (ext prefixes).
struct FixedSink {
  char buf[1024];
  size_t n = 0;
  void write(const char* p, size_t len) {
    std::memcpy(buf + n, p, len);  // callers bound the size (see kMaxNdim)
    n += len;
  }
};

constexpr size_t kMaxNdim = 64;

/// Reads msgpack items from an extension payload, in any valid form.
struct Cursor {
  const unsigned char* p;
  const unsigned char* end;

  bool Need(size_t n) const { return static_cast<size_t>(end - p) >= n; }
  uint64_t BigEndian(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
    p += n;
    return v;
  }
  bool ArrayHeader(uint32_t* n) {
    if (!Need(1)) return false;
    const unsigned char c = *p++;
    if ((c & 0xf0) == 0x90) {
      *n = c & 0x0f;
      return true;
    }
    const size_t w = c == 0xdc ? 2 : c == 0xdd ? 4 : 0;
    if (w == 0 || !Need(w)) return false;
    *n = static_cast<uint32_t>(BigEndian(w));
    return true;
  }
  bool Str(std::string_view* s) {
    if (!Need(1)) return false;
    const unsigned char c = *p++;
    uint64_t len;
    if ((c & 0xe0) == 0xa0) {
      len = c & 0x1f;
    } else {
      const size_t w = c == 0xd9 ? 1 : c == 0xda ? 2 : c == 0xdb ? 4 : 0;
      if (w == 0 || !Need(w)) return false;
      len = BigEndian(w);
    }
    if (!Need(len)) return false;
    *s = std::string_view(reinterpret_cast<const char*>(p), len);
    p += len;
    return true;
  }
  bool IsBin() const { return Need(1) && (*p == 0xc4 || *p == 0xc5 || *p == 0xc6); }
  bool Bin(std::string_view* s) {
    if (!IsBin()) return false;
    const unsigned char c = *p++;
    const size_t w = c == 0xc4 ? 1 : c == 0xc5 ? 2 : 4;
    if (!Need(w)) return false;
    const uint64_t len = BigEndian(w);
    if (!Need(len)) return false;
    *s = std::string_view(reinterpret_cast<const char*>(p), len);
    p += len;
    return true;
  }
  /// A non-negative int in any int form.
  bool Uint(uint64_t* v) {
    if (!Need(1)) return false;
    const unsigned char c = *p++;
    if (c <= 0x7f) {
      *v = c;
      return true;
    }
    size_t w = 0;
    bool is_signed = false;
    switch (c) {
      case 0xcc: w = 1; break;
      case 0xcd: w = 2; break;
      case 0xce: w = 4; break;
      case 0xcf: w = 8; break;
      case 0xd0: w = 1; is_signed = true; break;
      case 0xd1: w = 2; is_signed = true; break;
      case 0xd2: w = 4; is_signed = true; break;
      case 0xd3: w = 8; is_signed = true; break;
      default: return false;
    }
    if (!Need(w)) return false;
    const uint64_t raw = BigEndian(w);
    if (is_signed && (raw >> (8 * w - 1)) & 1) return false;  // negative
    *v = raw;
    return true;
  }
  bool AtEnd() const { return p == end; }
};

Cursor PayloadCursor(const msgpack::object& ext) {
  const auto* p = reinterpret_cast<const unsigned char*>(ext.via.ext.data());
  return Cursor{p, p + ext.via.ext.size};
}

bool IsFloat(DType d) { return d == DType::kFloat32 || d == DType::kFloat64; }
bool IsSigned(DType d) {
  return d == DType::kInt8 || d == DType::kInt16 || d == DType::kInt32 || d == DType::kInt64;
}

}  // namespace

const char* DTypeString(DType dtype) { return kDTypes[static_cast<size_t>(dtype)].text; }

size_t DTypeSize(DType dtype) { return kDTypes[static_cast<size_t>(dtype)].size; }

bool ParseDType(std::string_view text, DType* dtype) {
  for (size_t i = 0; i < sizeof(kDTypes) / sizeof(kDTypes[0]); ++i) {
    if (text == kDTypes[i].text) {
      *dtype = static_cast<DType>(i);
      return true;
    }
  }
  return false;
}

namespace internal {

size_t ShapeCount(const std::vector<uint64_t>& shape) {
  uint64_t count = 1;
  for (uint64_t d : shape) {
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / d) {
      throw TypeError("ndarray shape overflows");
    }
    count *= d;
  }
  return static_cast<size_t>(count);
}

bool DTypeWidensTo(DType from, DType to) {
  if (from == to) return true;
  if (from == DType::kBool || to == DType::kBool) return false;
  const size_t fs = DTypeSize(from);
  const size_t ts = DTypeSize(to);
  if (IsFloat(to)) {
    if (IsFloat(from)) return fs <= ts;
    // Integers whose every value a float (24-bit mantissa) / double (53) holds.
    return to == DType::kFloat32 ? fs <= 2 : fs <= 4;
  }
  if (IsFloat(from)) return false;
  if (IsSigned(to)) return IsSigned(from) ? fs <= ts : fs < ts;
  return !IsSigned(from) && fs <= ts;
}

void Writer::NdArray(DType dtype, const uint64_t* shape, size_t ndim, const void* data,
                     size_t nbytes) {
  if (ndim > kMaxNdim) ThrowEncodeMismatch("ndarray", "has more than 64 dimensions");
  FixedSink prefix;
  msgpack::packer<FixedSink> pk(prefix);
  pk.pack_array(3);
  pk.pack_str(3);
  pk.pack_str_body(DTypeString(dtype), 3);
  pk.pack_array(static_cast<uint32_t>(ndim));
  for (size_t i = 0; i < ndim; ++i) pk.pack_uint64(shape[i]);
  if (nbytes > 0 && nbytes >= oob_threshold_) {
    pk.pack_uint64(out_->buffers.size());
    Ext(kExtNdArray, std::string_view(prefix.buf, prefix.n));
    out_->buffers.emplace_back(static_cast<const char*>(data), nbytes);
    return;
  }
  pk.pack_bin(CheckedLength(nbytes));
  pk_.pack_ext(CheckedLength(prefix.n + nbytes), kExtNdArray);
  write(prefix.buf, prefix.n);
  write(static_cast<const char*>(data), nbytes);
}

void Writer::Native(Language language, std::string_view data) {
  FixedSink prefix;
  msgpack::packer<FixedSink> pk(prefix);
  pk.pack_array(2);
  pk.pack_int64(static_cast<int64_t>(language));
  pk.pack_bin(CheckedLength(data.size()));
  pk_.pack_ext(CheckedLength(prefix.n + data.size()), kExtNative);
  write(prefix.buf, prefix.n);
  write(data.data(), data.size());
}

void ParseNdArray(const msgpack::object& ext, const DecodeContext& ctx, const std::string& expected,
                  NdArrayRef* out) {
  Cursor c = PayloadCursor(ext);
  uint32_t n = 0;
  std::string_view dtype_text;
  if (!c.ArrayHeader(&n) || n != 3 || !c.Str(&dtype_text)) {
    ThrowMismatch(ext, expected, "malformed ndarray: expected [dtype, shape, data]");
  }
  if (!ParseDType(dtype_text, &out->dtype)) {
    ThrowMismatch(ext, expected, "unknown ndarray dtype \"" + std::string(dtype_text) + "\"");
  }
  uint32_t ndim = 0;
  if (!c.ArrayHeader(&ndim) || ndim > kMaxNdim) {
    ThrowMismatch(ext, expected, "malformed ndarray shape");
  }
  out->shape.resize(ndim);
  for (uint32_t i = 0; i < ndim; ++i) {
    if (!c.Uint(&out->shape[i])) ThrowMismatch(ext, expected, "malformed ndarray shape");
  }
  uint64_t count = 1;
  for (uint64_t d : out->shape) {
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / d) {
      ThrowMismatch(ext, expected, "ndarray shape overflows");
    }
    count *= d;
  }
  const size_t item = DTypeSize(out->dtype);
  if (count > std::numeric_limits<uint64_t>::max() / item) {
    ThrowMismatch(ext, expected, "ndarray shape overflows");
  }
  const uint64_t nbytes = count * item;
  std::string_view data;
  if (c.IsBin()) {
    if (!c.Bin(&data)) ThrowMismatch(ext, expected, "malformed ndarray data");
    out->out_of_band = false;
  } else {
    uint64_t index = 0;
    if (!c.Uint(&index)) ThrowMismatch(ext, expected, "malformed ndarray data");
    const size_t nbuf = ctx.view ? ctx.view->buffers.size() : 0;
    if (index >= nbuf) {
      ThrowMismatch(ext, expected,
                    "ndarray data is out-of-band buffer " + std::to_string(index) + " but the value has " +
                        std::to_string(nbuf) + " buffers");
    }
    data = ctx.view->buffers[index];
    out->out_of_band = true;
  }
  if (!c.AtEnd()) ThrowMismatch(ext, expected, "malformed ndarray: trailing bytes");
  if (data.size() != nbytes) {
    ThrowMismatch(ext, expected,
                  "ndarray data has " + std::to_string(data.size()) + " bytes, its shape needs " +
                      std::to_string(nbytes));
  }
  out->data = data.data();
  out->nbytes = static_cast<size_t>(nbytes);
  out->count = static_cast<size_t>(count);
}

void ParseNative(const msgpack::object& ext, NativeValue* out) {
  Cursor c = PayloadCursor(ext);
  uint32_t n = 0;
  uint64_t language = 0;
  std::string_view data;
  if (!c.ArrayHeader(&n) || n != 2 || !c.Uint(&language) || language > 2 || !c.Bin(&data) ||
      !c.AtEnd()) {
    ThrowMismatch(ext, "polyray::NativeValue", "malformed native value: expected [language, bin]");
  }
  out->language = static_cast<Language>(language);
  out->data.assign(data.data(), data.size());
}

std::string DescribeXlang(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL:
      return "nil";
    case msgpack::type::BOOLEAN:
      return o.via.boolean ? "bool true" : "bool false";
    case msgpack::type::POSITIVE_INTEGER:
      return "int " + std::to_string(o.via.u64);
    case msgpack::type::NEGATIVE_INTEGER:
      return "int " + std::to_string(o.via.i64);
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: {
      char buf[40];
      std::snprintf(buf, sizeof(buf), "float %.17g", o.via.f64);
      return buf;
    }
    case msgpack::type::STR:
      if (o.via.str.size <= 32) return "str \"" + std::string(o.via.str.ptr, o.via.str.size) + "\"";
      return "str of " + std::to_string(o.via.str.size) + " bytes";
    case msgpack::type::BIN:
      return "bin of " + std::to_string(o.via.bin.size) + " bytes";
    case msgpack::type::ARRAY:
      return "array of " + std::to_string(o.via.array.size);
    case msgpack::type::MAP:
      return "map of " + std::to_string(o.via.map.size);
    case msgpack::type::EXT:
      break;
  }
  switch (o.via.ext.type()) {
    case kExtObjectRef:
      return "ObjectRef";
    case kExtActorHandle:
      return "ActorHandle";
    case kExtNdArray: {
      Cursor c = PayloadCursor(o);
      uint32_t n = 0, ndim = 0;
      std::string_view dtype;
      if (!c.ArrayHeader(&n) || n != 3 || !c.Str(&dtype) || !c.ArrayHeader(&ndim)) {
        return "ndarray (malformed)";
      }
      std::string text = "ndarray " + std::string(dtype) + " [";
      for (uint32_t i = 0; i < ndim; ++i) {
        uint64_t d = 0;
        if (!c.Uint(&d)) return "ndarray (malformed)";
        text += (i ? ", " : "") + std::to_string(d);
      }
      return text + "]";
    }
    case kExtNative: {
      Cursor c = PayloadCursor(o);
      uint32_t n = 0;
      uint64_t lang = 0;
      if (!c.ArrayHeader(&n) || n != 2 || !c.Uint(&lang)) return "native value (malformed)";
      static const char* kNames[] = {"PYTHON", "JAVA", "CPP"};
      return std::string("native value of ") + (lang <= 2 ? kNames[lang] : "language " + std::to_string(lang));
    }
    default:
      return "ext " + std::to_string(o.via.ext.type());
  }
}

std::string MapKeySegment(const msgpack::object& key) {
  switch (key.type) {
    case msgpack::type::STR:
      return "[\"" + std::string(key.via.str.ptr, key.via.str.size) + "\"]";
    case msgpack::type::POSITIVE_INTEGER:
      return "[" + std::to_string(key.via.u64) + "]";
    case msgpack::type::NEGATIVE_INTEGER:
      return "[" + std::to_string(key.via.i64) + "]";
    default:
      return "[<" + DescribeXlang(key) + " key>]";
  }
}

msgpack::object_handle ParseXlangBody(std::string_view body, const std::string& what) {
  std::size_t offset = 0;
  bool referenced = false;
  const msgpack::unpack_limit limit(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
                                    kMaxDecodeDepth);
  auto reference_all = [](msgpack::type::object_type, std::size_t, void*) { return true; };
  msgpack::object_handle handle;
  std::string problem;
  try {
    handle = msgpack::unpack(body.data(), body.size(), offset, referenced, reference_all, nullptr,
                             limit);
  } catch (const msgpack::depth_size_overflow&) {
    problem = "nested deeper than " + std::to_string(kMaxDecodeDepth) + " levels";
  } catch (const std::exception& e) {
    problem = std::string("malformed msgpack (") + e.what() + ")";
  }
  if (problem.empty() && offset != body.size()) {
    problem = "malformed msgpack (" + std::to_string(body.size() - offset) +
              " bytes after the value)";
  }
  if (!problem.empty()) throw TypeError(what + ": the XLANG value is " + problem);
  return handle;
}

}  // namespace internal
}  // namespace polyray

// The codec's machinery under the type mapping: Writer (canonical msgpack,
// docs/protocol.md §10.1, into an internal::Encoded), DecodeContext (what a
// decoder needs besides the msgpack object: the view's out-of-band buffers
// and keepalive) and CodecMismatch (a failed conversion travelling up the
// value to collect its place). Internal: users include polyray/codec.h.
//
// Invariants:
//  - Writer produces canonical forms only: smallest int/str/bin/array/map/ext
//    headers (msgpack-cxx's packer does this), floats always as float64 (0xcb,
//    written here: msgpack-cxx would pack whole-number doubles as ints).
//  - Every ext 1 / ext 2 written is also appended to nested_refs /
//    nested_handles; ndarray data of at least oob_threshold bytes (and not
//    empty) goes to Encoded::buffers, numbered in encounter order.
//  - CodecMismatch is thrown at the innermost failing place; each container
//    on the way out appends its segment to `path` (innermost first) and
//    rethrows, so the success path pays nothing for error places.
#ifndef POLYRAY_CODEC_WIRE_H_
#define POLYRAY_CODEC_WIRE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "polyray/codec/values.h"
#include "polyray/internal/runtime.h"

namespace polyray {
namespace internal {

/// Default out-of-band threshold for ndarray data (docs/protocol.md §8.2).
constexpr size_t kDefaultOobThreshold = 64 * 1024;
/// Deepest nesting a decoder accepts (the protocol requires 512).
constexpr size_t kMaxDecodeDepth = 1024;
/// Extension type codes (docs/protocol.md §10.2).
constexpr int8_t kExtObjectRef = 1;
constexpr int8_t kExtActorHandle = 2;
constexpr int8_t kExtNdArray = 3;
constexpr int8_t kExtNative = 4;

/// A conversion that failed, on its way up to Encode/Decode, which turn it
/// into polyray::TypeError. Not an std::exception: it never leaves the codec.
struct CodecMismatch {
  /// The C++ type expected (decode) or being encoded.
  std::string expected;
  /// The XLANG value found (decode), e.g. "str" or "int 300"; empty on encode.
  std::string found;
  /// More about it ("out of range", "not valid UTF-8: ...").
  std::string detail;
  /// Places inside the value, innermost first ("[3]", "[\"k\"]", ".x").
  std::vector<std::string> path;
};

/// A short XLANG description of a msgpack object for error messages
/// ("int 300", "str", "array of 3", "ndarray <f8 [2, 2]", "ObjectRef", ...).
std::string DescribeXlang(const msgpack::object& o);
/// The path segment of a map entry whose key is `key` ("[\"k\"]", "[5]").
std::string MapKeySegment(const msgpack::object& key);
/// Throws CodecMismatch{expected, DescribeXlang(found), detail}.
[[noreturn]] void ThrowMismatch(const msgpack::object& found, std::string expected,
                                std::string detail = {});
/// Throws CodecMismatch for an encode failure of a `type` value.
[[noreturn]] void ThrowEncodeMismatch(std::string type, std::string detail);
/// Throws polyray::TypeError "<what><path>: expected C++ X, got XLANG Y (detail)".
[[noreturn]] void ThrowDecodeError(const std::string& what, const CodecMismatch& m);
/// Throws polyray::TypeError "<what><path>: <type> <detail>" for an encode failure.
[[noreturn]] void ThrowEncodeError(std::string_view what, const CodecMismatch& m);
/// Whether [data, data+n) is valid UTF-8.
bool IsValidUtf8(const char* data, size_t n);

/// Writes canonical XLANG msgpack into an Encoded (body, buffers, nested
/// refs and handles). Also the Stream of msgpack-cxx's packer (write()).
class Writer {
 public:
  /// Appends to `out` (body, buffers, nested_*); ndarray data of at least
  /// `oob_threshold` bytes goes out of band.
  Writer(Encoded* out, size_t oob_threshold)
      : out_(out), oob_threshold_(oob_threshold), pk_(*this) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// Stream interface for msgpack::packer: appends raw bytes to the body.
  void write(const char* data, size_t n) { out_->body.append(data, n); }
  /// nil.
  void Nil() { pk_.pack_nil(); }
  /// true / false.
  void Bool(bool v) {
    if (v) {
      pk_.pack_true();
    } else {
      pk_.pack_false();
    }
  }
  /// A signed int in its smallest form (non-negative values as uint forms).
  void Int(int64_t v) { pk_.pack_int64(v); }
  /// An unsigned int in its smallest form.
  void Uint(uint64_t v) { pk_.pack_uint64(v); }
  /// A float64, bit pattern kept (NaN, -0.0 included).
  void Float(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    char buf[9];
    buf[0] = static_cast<char>(0xcb);
    for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    write(buf, 9);
  }
  /// A str; throws CodecMismatch when `s` is not valid UTF-8.
  void Str(std::string_view s) {
    if (!IsValidUtf8(s.data(), s.size())) {
      ThrowEncodeMismatch("std::string", "is not valid UTF-8 (send bytes as std::vector<uint8_t>)");
    }
    pk_.pack_str(CheckedLength(s.size()));
    write(s.data(), s.size());
  }
  /// A bin.
  void Bin(const void* data, size_t n) {
    pk_.pack_bin(CheckedLength(n));
    write(static_cast<const char*>(data), n);
  }
  /// An array header of n elements (the caller writes them).
  void ArrayHeader(size_t n) { pk_.pack_array(CheckedLength(n)); }
  /// A map header of n entries (the caller writes key, value, ...).
  void MapHeader(size_t n) { pk_.pack_map(CheckedLength(n)); }
  /// An extension value with the given payload.
  void Ext(int8_t type, std::string_view payload) {
    pk_.pack_ext(CheckedLength(payload.size()), type);
    write(payload.data(), payload.size());
  }
  /// ext 1 with a serialized ObjectRef; recorded in nested_refs.
  void Ref(const std::string& serialized) {
    Ext(kExtObjectRef, serialized);
    out_->nested_refs.push_back(serialized);
  }
  /// ext 2 with a serialized ActorHandle; recorded in nested_handles.
  void Actor(const std::string& serialized) {
    Ext(kExtActorHandle, serialized);
    out_->nested_handles.push_back(serialized);
  }
  /// ext 3: an ndarray of `dtype` and `shape` whose C-order little-endian
  /// element bytes are [data, data+nbytes); out of band when large.
  void NdArray(DType dtype, const uint64_t* shape, size_t ndim, const void* data, size_t nbytes);
  /// ext 4: a native value of `language`.
  void Native(Language language, std::string_view data);
  /// The Encoded being written.
  Encoded& out() { return *out_; }

 private:
  static uint32_t CheckedLength(size_t n) {
    if (n > 0xffffffffu) ThrowEncodeMismatch("value", "is longer than msgpack allows (2^32-1)");
    return static_cast<uint32_t>(n);
  }

  Encoded* out_;
  size_t oob_threshold_;
  msgpack::packer<Writer> pk_;
};

/// What decoders need besides the msgpack object.
struct DecodeContext {
  /// The value being decoded: out-of-band buffers and keepalive.
  const ValueView* view = nullptr;
};

/// An ndarray ext 3 parsed (docs/protocol.md §10.4); data points into the
/// body (in band) or into an out-of-band buffer of the view.
struct NdArrayRef {
  DType dtype = DType::kFloat64;
  std::vector<uint64_t> shape;
  const char* data = nullptr;
  size_t nbytes = 0;
  size_t count = 0;
  bool out_of_band = false;
};

/// Whether `o` is an extension value of `type`.
inline bool IsExt(const msgpack::object& o, int8_t type) {
  return o.type == msgpack::type::EXT && o.via.ext.type() == type;
}
/// Parses an ndarray ext 3; throws CodecMismatch (expected `expected`) when
/// it is malformed (bad dtype, size disagreeing with the shape, no such buffer).
void ParseNdArray(const msgpack::object& ext, const DecodeContext& ctx, const std::string& expected,
                  NdArrayRef* out);
/// Parses a native value ext 4 (payload [language, bin]).
void ParseNative(const msgpack::object& ext, NativeValue* out);
/// Whether every `from` value is exactly representable as `to`.
bool DTypeWidensTo(DType from, DType to);

/// Parses an XLANG body into msgpack objects whose str/bin/ext point into
/// the body (no copy). Throws TypeError naming `what` when it is malformed.
msgpack::object_handle ParseXlangBody(std::string_view body, const std::string& what);

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_CODEC_WIRE_H_

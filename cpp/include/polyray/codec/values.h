// Value holders of the XLANG codec that are not plain C++ types: ndarrays
// (NdArray owning, NdSpan a zero-copy view), native values of another
// language (NativeValue) and Arrow IPC streams (ArrowIpc). See
// docs/protocol.md §9-10.
//
// Invariants:
//  - Element data is little-endian, C order; the host is little-endian
//    (checked at compile time), so element bytes are used as they are.
//  - NdArray<T>::data().size() == product of shape() (1 for a 0-d array).
//  - An NdSpan's data() stays valid while the span (or a copy) lives: it holds
//    the received value's keepalive, which pins a shared-memory object.
//  - A NativeValue / ArrowIpc re-encodes byte for byte what was received.
#ifndef POLYRAY_CODEC_VALUES_H_
#define POLYRAY_CODEC_VALUES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "polyray/exceptions.h"
#include "polyray/internal/runtime.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "polyray's codec assumes a little-endian host (XLANG ndarray data is little-endian)");

namespace polyray {

/// The element types of an XLANG ndarray (docs/protocol.md §10.4).
enum class DType : uint8_t {
  kBool,     ///< "|b1": one byte, 0 or 1
  kInt8,     ///< "|i1"
  kUint8,    ///< "|u1"
  kInt16,    ///< "<i2"
  kUint16,   ///< "<u2"
  kInt32,    ///< "<i4"
  kUint32,   ///< "<u4"
  kInt64,    ///< "<i8"
  kUint64,   ///< "<u8"
  kFloat32,  ///< "<f4"
  kFloat64,  ///< "<f8"
};

/// The numpy array-interface string of a dtype ("<f8", "|b1", ...).
const char* DTypeString(DType dtype);
/// The size of one element of a dtype, in bytes.
size_t DTypeSize(DType dtype);
/// Parses a dtype string; false when it is not one of the XLANG dtypes.
bool ParseDType(std::string_view text, DType* dtype);

namespace internal {

/// Whether T is an element type of ndarrays (arithmetic with an XLANG dtype).
template <typename T>
constexpr bool kIsNdElement =
    std::is_arithmetic_v<T> && (std::is_same_v<T, bool> || std::is_integral_v<T> ||
                                std::is_same_v<T, float> || std::is_same_v<T, double>) &&
    (sizeof(T) <= 8);

/// The dtype of element type T (only for kIsNdElement<T>).
template <typename T>
constexpr DType DTypeOf() {
  static_assert(kIsNdElement<T>, "polyray: no XLANG ndarray dtype for this element type");
  if constexpr (std::is_same_v<T, bool>) {
    return DType::kBool;
  } else if constexpr (std::is_same_v<T, float>) {
    return DType::kFloat32;
  } else if constexpr (std::is_same_v<T, double>) {
    return DType::kFloat64;
  } else if constexpr (sizeof(T) == 1) {
    return std::is_signed_v<T> ? DType::kInt8 : DType::kUint8;
  } else if constexpr (sizeof(T) == 2) {
    return std::is_signed_v<T> ? DType::kInt16 : DType::kUint16;
  } else if constexpr (sizeof(T) == 4) {
    return std::is_signed_v<T> ? DType::kInt32 : DType::kUint32;
  } else {
    return std::is_signed_v<T> ? DType::kInt64 : DType::kUint64;
  }
}

/// Number of elements of a shape (1 for a 0-d array); throws TypeError on overflow.
size_t ShapeCount(const std::vector<uint64_t>& shape);

template <typename T>
struct Codec;  // defined in codec/*.h

}  // namespace internal

/// An owning n-dimensional array of T (bool excluded: use NdSpan<bool> or
/// std::vector<bool>). Encodes as ndarray ext 3 with T's dtype, out of band
/// when large; decodes from an ndarray of T's dtype or one that widens to it
/// without loss (e.g. "<i4" into NdArray<int64_t>), or from a 1-D msgpack
/// array of numbers.
template <typename T>
class NdArray {
  static_assert(internal::kIsNdElement<T> && !std::is_same_v<T, bool>,
                "polyray::NdArray<T>: T must be an integer type, float or double");

 public:
  /// An empty 1-D array (shape [0]).
  NdArray() : shape_{0} {}
  /// A 1-D array of `data`.
  explicit NdArray(std::vector<T> data) : shape_{data.size()}, data_(std::move(data)) {}
  /// An array of `shape` whose elements (C order) are `data`; throws
  /// polyray::TypeError when data.size() is not the product of shape.
  NdArray(std::vector<uint64_t> shape, std::vector<T> data)
      : shape_(std::move(shape)), data_(std::move(data)) {
    if (internal::ShapeCount(shape_) != data_.size()) {
      throw TypeError("polyray::NdArray: " + std::to_string(data_.size()) +
                      " elements do not fill the shape given");
    }
  }
  /// The dimensions (empty for a 0-d array).
  const std::vector<uint64_t>& shape() const { return shape_; }
  /// The elements in C order.
  const std::vector<T>& data() const { return data_; }
  /// The elements in C order, writable (keep the count).
  std::vector<T>& data() { return data_; }
  /// Number of elements.
  size_t size() const { return data_.size(); }
  /// Number of dimensions.
  size_t ndim() const { return shape_.size(); }
  /// Element i in C order.
  const T& operator[](size_t i) const { return data_[i]; }
  /// Equal shapes and elements.
  bool operator==(const NdArray& o) const { return shape_ == o.shape_ && data_ == o.data_; }

 private:
  friend struct internal::Codec<NdArray<T>>;
  std::vector<uint64_t> shape_;
  std::vector<T> data_;
};

/// A read-only n-dimensional array of T over received memory, without a copy
/// when the data is suitably aligned (always for out-of-band arrays, which the
/// store and protobuf place at aligned addresses; an in-band array inside the
/// msgpack body is copied when misaligned: see is_view()). Holds the received
/// value's keepalive, so a shared-memory object stays pinned while the span
/// (or a copy of it) lives. Decodes only from an ndarray of exactly T's dtype.
template <typename T>
class NdSpan {
  static_assert(internal::kIsNdElement<T>, "polyray::NdSpan<T>: T must have an XLANG dtype");

 public:
  NdSpan() = default;
  /// A span over caller-owned memory (e.g. to encode it); `keepalive` may be null.
  NdSpan(const T* data, std::vector<uint64_t> shape, std::shared_ptr<const void> keepalive = {})
      : data_(data), size_(internal::ShapeCount(shape)), shape_(std::move(shape)),
        keepalive_(std::move(keepalive)) {}
  /// The first element (elements in C order).
  const T* data() const { return data_; }
  /// Number of elements.
  size_t size() const { return size_; }
  /// The dimensions (empty for a 0-d array).
  const std::vector<uint64_t>& shape() const { return shape_; }
  /// Number of dimensions.
  size_t ndim() const { return shape_.size(); }
  /// Element i in C order.
  const T& operator[](size_t i) const { return data_[i]; }
  /// Iteration over the elements in C order.
  const T* begin() const { return data_; }
  /// End of the elements.
  const T* end() const { return data_ + size_; }
  /// True when data() points into the received memory (no copy was made).
  bool is_view() const { return is_view_; }
  /// What keeps the memory alive (shared with the received value).
  const std::shared_ptr<const void>& keepalive() const { return keepalive_; }

 private:
  friend struct internal::Codec<NdSpan<T>>;
  const T* data_ = nullptr;
  size_t size_ = 0;
  std::vector<uint64_t> shape_{0};
  std::shared_ptr<const void> keepalive_;
  bool is_view_ = false;
};

/// A value of another language (ext 4): bytes only `language` decodes (a
/// pickle, a Java serialization, ...). Kept opaque and re-encoded byte for
/// byte, so an object can travel through C++ and back.
struct NativeValue {
  /// The language that can decode `data`.
  Language language = Language::kPython;
  /// The opaque bytes.
  std::string data;
  /// Same language and bytes.
  bool operator==(const NativeValue& o) const {
    return language == o.language && data == o.data;
  }
};

/// An Arrow IPC stream (format ARROW; only as a whole value, never inside
/// another value). Decoding keeps a view of the received bytes (no copy) and
/// holds their keepalive; encoding sends the bytes as they are.
class ArrowIpc {
 public:
  ArrowIpc() = default;
  /// Owns a copy of `stream` (an Arrow IPC stream: schema, batches, end marker).
  explicit ArrowIpc(std::string stream) {
    auto owned = std::make_shared<const std::string>(std::move(stream));
    bytes_ = *owned;
    keepalive_ = std::move(owned);
  }
  /// Views `stream`, which stays valid while `keepalive` is held.
  ArrowIpc(std::string_view stream, std::shared_ptr<const void> keepalive)
      : bytes_(stream), keepalive_(std::move(keepalive)) {}
  /// The IPC stream bytes.
  std::string_view bytes() const { return bytes_; }

 private:
  std::string_view bytes_;
  std::shared_ptr<const void> keepalive_;
};

}  // namespace polyray

#endif  // POLYRAY_CODEC_VALUES_H_

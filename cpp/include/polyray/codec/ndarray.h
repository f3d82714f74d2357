// ndarray ext 3 in C++ (docs/protocol.md §10.4): NdArray<T> (owning),
// NdSpan<T> (zero-copy view), and the element conversion that
// std::vector<T> of numbers also uses (codec/containers.h).
//
// Invariants:
//  - An ndarray decodes into T only from T's dtype or one that widens to it
//    without loss (DTypeWidensTo); "|b1" only into bool, each byte checked
//    to be 0 or 1.
//  - Source bytes are read with memcpy, so in-band (unaligned) data is safe;
//    an NdSpan views the received memory only when it is aligned for T,
//    otherwise it owns an aligned copy (is_view() false).
#ifndef POLYRAY_CODEC_NDARRAY_H_
#define POLYRAY_CODEC_NDARRAY_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "polyray/codec/scalars.h"
#include "polyray/codec/values.h"
#include "polyray/codec/wire.h"

namespace polyray {
namespace internal {

/// Converts n elements of source type S (little-endian, maybe unaligned) to T.
template <typename T, typename S>
void ConvertElements(const char* src, size_t n, T* out) {
  for (size_t i = 0; i < n; ++i) {
    S s;
    std::memcpy(&s, src + i * sizeof(S), sizeof(S));
    out[i] = static_cast<T>(s);
  }
}

/// Checks that every byte of a "|b1" array is 0 or 1.
inline bool ValidBoolBytes(const char* data, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<unsigned char>(data[i]) > 1) return false;
  }
  return true;
}

/// Fills out[0, a.count) from the ndarray `a` (found as `o`), converting its
/// dtype to T when that loses nothing; throws CodecMismatch otherwise.
template <typename T>
void ConvertNdArray(const NdArrayRef& a, const msgpack::object& o, const std::string& expected,
                    T* out) {
  constexpr DType kTo = DTypeOf<T>();
  if (a.dtype == kTo) {
    if constexpr (std::is_same_v<T, bool>) {
      if (!ValidBoolBytes(a.data, a.nbytes)) ThrowMismatch(o, expected, "a |b1 byte is not 0 or 1");
    }
    if (a.nbytes != 0) std::memcpy(out, a.data, a.nbytes);
    return;
  }
  if (!DTypeWidensTo(a.dtype, kTo)) {
    ThrowMismatch(o, expected,
                  std::string("dtype ") + DTypeString(a.dtype) + " does not convert to " +
                      DTypeString(kTo) + " without loss");
  }
  if constexpr (!std::is_same_v<T, bool>) {
    switch (a.dtype) {
      case DType::kInt8: return ConvertElements<T, int8_t>(a.data, a.count, out);
      case DType::kUint8: return ConvertElements<T, uint8_t>(a.data, a.count, out);
      case DType::kInt16: return ConvertElements<T, int16_t>(a.data, a.count, out);
      case DType::kUint16: return ConvertElements<T, uint16_t>(a.data, a.count, out);
      case DType::kInt32: return ConvertElements<T, int32_t>(a.data, a.count, out);
      case DType::kUint32: return ConvertElements<T, uint32_t>(a.data, a.count, out);
      case DType::kInt64: return ConvertElements<T, int64_t>(a.data, a.count, out);
      case DType::kUint64: return ConvertElements<T, uint64_t>(a.data, a.count, out);
      case DType::kFloat32: return ConvertElements<T, float>(a.data, a.count, out);
      case DType::kFloat64: return ConvertElements<T, double>(a.data, a.count, out);
      case DType::kBool: break;
    }
  }
  ThrowMismatch(o, expected, "unsupported dtype conversion");
}

/// An owning ndarray.
template <typename T>
struct Codec<NdArray<T>> {
  static std::string Name() { return "polyray::NdArray<" + Codec<T>::Name() + ">"; }
  static void Encode(Writer& w, const NdArray<T>& v) {
    w.NdArray(DTypeOf<T>(), v.shape_.data(), v.shape_.size(), v.data_.data(),
              v.data_.size() * sizeof(T));
  }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, NdArray<T>& out) {
    if (IsExt(o, kExtNdArray)) {
      NdArrayRef a;
      ParseNdArray(o, ctx, Name(), &a);
      std::vector<T> data(a.count);
      ConvertNdArray<T>(a, o, Name(), data.data());
      out.shape_ = std::move(a.shape);
      out.data_ = std::move(data);
    } else if (o.type == msgpack::type::ARRAY) {
      const uint32_t n = o.via.array.size;
      std::vector<T> data(n);
      for (uint32_t i = 0; i < n; ++i) {
        try {
          Codec<T>::Decode(o.via.array.ptr[i], ctx, data[i]);
        } catch (CodecMismatch& m) {
          m.path.push_back("[" + std::to_string(i) + "]");
          throw;
        }
      }
      out.shape_.assign(1, n);
      out.data_ = std::move(data);
    } else {
      ThrowMismatch(o, Name());
    }
  }
};

/// A read-only view of a received ndarray of exactly T's dtype.
template <typename T>
struct Codec<NdSpan<T>> {
  static std::string Name() { return "polyray::NdSpan<" + Codec<T>::Name() + ">"; }
  static void Encode(Writer& w, const NdSpan<T>& v) {
    w.NdArray(DTypeOf<T>(), v.shape_.data(), v.shape_.size(), v.data_, v.size_ * sizeof(T));
  }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, NdSpan<T>& out) {
    if (!IsExt(o, kExtNdArray)) ThrowMismatch(o, Name());
    NdArrayRef a;
    ParseNdArray(o, ctx, Name(), &a);
    if (a.dtype != DTypeOf<T>()) {
      ThrowMismatch(o, Name(), std::string("an NdSpan needs dtype ") + DTypeString(DTypeOf<T>()) +
                                   " exactly; decode as NdArray<T> to convert");
    }
    if constexpr (std::is_same_v<T, bool>) {
      if (!ValidBoolBytes(a.data, a.nbytes)) ThrowMismatch(o, Name(), "a |b1 byte is not 0 or 1");
    }
    out.shape_ = std::move(a.shape);
    out.size_ = a.count;
    if (a.count == 0 || reinterpret_cast<uintptr_t>(a.data) % alignof(T) == 0) {
      out.data_ = reinterpret_cast<const T*>(a.data);
      out.keepalive_ = ctx.view ? ctx.view->keepalive : nullptr;
      out.is_view_ = true;
    } else {
      std::shared_ptr<T[]> copy(new T[a.count]);
      std::memcpy(copy.get(), a.data, a.nbytes);
      out.data_ = copy.get();
      out.keepalive_ = std::move(copy);
      out.is_view_ = false;
    }
  }
};

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_CODEC_NDARRAY_H_

// The type mapping for containers (docs/protocol.md §9): bin
// (std::vector<uint8_t>), arrays (std::vector, std::list, std::array,
// std::tuple, std::pair) and maps (std::map, std::unordered_map).
//
// The ndarray rule: std::vector<T> of a number type T other than bool and
// uint8_t ENCODES as a 1-D ndarray ext 3 of T's dtype (as Java sends its
// primitive arrays; large ones go out of band, so the receiver maps them
// without a copy), and DECODES from a 1-D ndarray (T's dtype or one that
// widens to it without loss) or from a msgpack array of numbers.
// std::vector<uint8_t> is bin (decodes from bin, a "|u1" ndarray or an array
// of ints); std::vector<bool> is an array of bools (decodes from "|b1" too).
//
// Invariants:
//  - Fixed-size targets (std::array, tuple, pair) check the element count.
//  - Maps encode in the container's iteration order; decoding into a
//    std::map sorts (use XValue to keep the sender's order).
//  - A failing element adds its place ("[i]", "[\"key\"]") to the mismatch.
#ifndef POLYRAY_CODEC_CONTAINERS_H_
#define POLYRAY_CODEC_CONTAINERS_H_

#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "polyray/codec/ndarray.h"
#include "polyray/codec/scalars.h"
#include "polyray/codec/wire.h"

namespace polyray {
namespace internal {

/// "[i]", the place of element i.
inline std::string IndexSegment(size_t i) { return "[" + std::to_string(i) + "]"; }

/// Encodes element `v` at place `segment()` (called only on failure).
template <typename E, typename Seg>
inline void EncodeAt(Writer& w, const E& v, Seg&& segment) {
  try {
    Codec<E>::Encode(w, v);
  } catch (CodecMismatch& m) {
    m.path.push_back(segment());
    throw;
  }
}

/// Decodes element `o` into `out` at place `segment()` (called only on failure).
template <typename E, typename Seg>
inline void DecodeAt(const msgpack::object& o, const DecodeContext& ctx, E& out, Seg&& segment) {
  try {
    Codec<E>::Decode(o, ctx, out);
  } catch (CodecMismatch& m) {
    m.path.push_back(segment());
    throw;
  }
}

/// The place of a map value under C++ key `k` when encoding.
template <typename K>
std::string EncodeKeySegment(const K& k) {
  if constexpr (std::is_same_v<K, std::string>) {
    return "[\"" + k + "\"]";
  } else if constexpr (std::is_integral_v<K> && !std::is_same_v<K, bool>) {
    return "[" + std::to_string(k) + "]";
  } else {
    return "[<" + Codec<K>::Name() + " key>]";
  }
}

/// Whether std::vector<T> travels as an ndarray (see the file comment).
template <typename T>
constexpr bool kVectorIsNdArray =
    kIsNdElement<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, uint8_t>;

/// Writes a sequence of `n` elements as an array.
template <typename C>
void EncodeSequence(Writer& w, const C& c, size_t n) {
  using E = typename C::value_type;
  w.ArrayHeader(n);
  size_t i = 0;
  for (const auto& e : c) {
    const E& v = e;
    EncodeAt(w, v, [i] { return IndexSegment(i); });
    ++i;
  }
}

/// bin.
template <>
struct Codec<std::vector<uint8_t>> {
  static std::string Name() { return "std::vector<uint8_t>"; }
  static void Encode(Writer& w, const std::vector<uint8_t>& v) { w.Bin(v.data(), v.size()); }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, std::vector<uint8_t>& out) {
    if (o.type == msgpack::type::BIN) {
      out.assign(reinterpret_cast<const uint8_t*>(o.via.bin.ptr),
                 reinterpret_cast<const uint8_t*>(o.via.bin.ptr) + o.via.bin.size);
    } else if (IsExt(o, kExtNdArray)) {
      NdArrayRef a;
      ParseNdArray(o, ctx, Name(), &a);
      if (a.shape.size() != 1) ThrowMismatch(o, Name(), "not 1-D: decode as polyray::NdArray<T>");
      out.resize(a.count);
      ConvertNdArray<uint8_t>(a, o, Name(), out.data());
    } else if (o.type == msgpack::type::ARRAY) {
      out.resize(o.via.array.size);
      for (uint32_t i = 0; i < o.via.array.size; ++i) {
        DecodeAt(o.via.array.ptr[i], ctx, out[i], [i] { return IndexSegment(i); });
      }
    } else {
      ThrowMismatch(o, Name());
    }
  }
};

/// array (or ndarray for numbers, see the file comment).
template <typename T>
struct Codec<std::vector<T>> {
  static std::string Name() { return "std::vector<" + Codec<T>::Name() + ">"; }
  static void Encode(Writer& w, const std::vector<T>& v) {
    if constexpr (kVectorIsNdArray<T>) {
      const uint64_t shape = v.size();
      w.NdArray(DTypeOf<T>(), &shape, 1, v.data(), v.size() * sizeof(T));
    } else {
      EncodeSequence(w, v, v.size());
    }
  }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, std::vector<T>& out) {
    if (o.type == msgpack::type::ARRAY) {
      const uint32_t n = o.via.array.size;
      out.resize(n);
      for (uint32_t i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<T, bool>) {
          bool b = false;
          DecodeAt(o.via.array.ptr[i], ctx, b, [i] { return IndexSegment(i); });
          out[i] = b;
        } else {
          DecodeAt(o.via.array.ptr[i], ctx, out[i], [i] { return IndexSegment(i); });
        }
      }
      return;
    }
    if constexpr (kIsNdElement<T>) {
      if (IsExt(o, kExtNdArray)) {
        NdArrayRef a;
        ParseNdArray(o, ctx, Name(), &a);
        if (a.shape.size() != 1) {
          ThrowMismatch(o, Name(), "not 1-D: decode as polyray::NdArray<T> or NdSpan<T>");
        }
        if constexpr (std::is_same_v<T, bool>) {
          std::unique_ptr<bool[]> tmp(new bool[a.count]);
          ConvertNdArray<bool>(a, o, Name(), tmp.get());
          out.assign(tmp.get(), tmp.get() + a.count);
        } else {
          out.resize(a.count);
          ConvertNdArray<T>(a, o, Name(), out.data());
        }
        return;
      }
    }
    ThrowMismatch(o, Name());
  }
};

/// array.
template <typename T>
struct Codec<std::list<T>> {
  static std::string Name() { return "std::list<" + Codec<T>::Name() + ">"; }
  static void Encode(Writer& w, const std::list<T>& v) { EncodeSequence(w, v, v.size()); }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, std::list<T>& out) {
    if (o.type != msgpack::type::ARRAY) ThrowMismatch(o, Name());
    out.clear();
    for (uint32_t i = 0; i < o.via.array.size; ++i) {
      out.emplace_back();
      DecodeAt(o.via.array.ptr[i], ctx, out.back(), [i] { return IndexSegment(i); });
    }
  }
};

/// array of exactly N.
template <typename T, size_t N>
struct Codec<std::array<T, N>> {
  static std::string Name() {
    return "std::array<" + Codec<T>::Name() + ", " + std::to_string(N) + ">";
  }
  static void Encode(Writer& w, const std::array<T, N>& v) { EncodeSequence(w, v, N); }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, std::array<T, N>& out) {
    if (o.type != msgpack::type::ARRAY || o.via.array.size != N) {
      ThrowMismatch(o, Name(), "an array of " + std::to_string(N) + " elements");
    }
    for (size_t i = 0; i < N; ++i) {
      DecodeAt(o.via.array.ptr[i], ctx, out[i], [i] { return IndexSegment(i); });
    }
  }
};

/// array of exactly sizeof...(Ts), element i of type Ts[i].
template <typename... Ts>
struct Codec<std::tuple<Ts...>> {
  static std::string Name() {
    std::string s = "std::tuple<";
    size_t i = 0;
    ((s += (i++ ? ", " : "") + Codec<Ts>::Name()), ...);
    return s + ">";
  }
  static void Encode(Writer& w, const std::tuple<Ts...>& v) {
    w.ArrayHeader(sizeof...(Ts));
    EncodeAll(w, v, std::index_sequence_for<Ts...>{});
  }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, std::tuple<Ts...>& out) {
    if (o.type != msgpack::type::ARRAY || o.via.array.size != sizeof...(Ts)) {
      ThrowMismatch(o, Name(), "an array of " + std::to_string(sizeof...(Ts)) + " elements");
    }
    DecodeAll(o, ctx, out, std::index_sequence_for<Ts...>{});
  }

 private:
  template <size_t... I>
  static void EncodeAll(Writer& w, const std::tuple<Ts...>& v, std::index_sequence<I...>) {
    (EncodeAt(w, std::get<I>(v), [] { return IndexSegment(I); }), ...);
  }
  template <size_t... I>
  static void DecodeAll(const msgpack::object& o, const DecodeContext& ctx, std::tuple<Ts...>& out,
                        std::index_sequence<I...>) {
    (DecodeAt(o.via.array.ptr[I], ctx, std::get<I>(out), [] { return IndexSegment(I); }), ...);
  }
};

/// array of exactly 2.
template <typename A, typename B>
struct Codec<std::pair<A, B>> {
  static std::string Name() {
    return "std::pair<" + Codec<A>::Name() + ", " + Codec<B>::Name() + ">";
  }
  static void Encode(Writer& w, const std::pair<A, B>& v) {
    w.ArrayHeader(2);
    EncodeAt(w, v.first, [] { return IndexSegment(0); });
    EncodeAt(w, v.second, [] { return IndexSegment(1); });
  }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, std::pair<A, B>& out) {
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 2) {
      ThrowMismatch(o, Name(), "an array of 2 elements");
    }
    DecodeAt(o.via.array.ptr[0], ctx, out.first, [] { return IndexSegment(0); });
    DecodeAt(o.via.array.ptr[1], ctx, out.second, [] { return IndexSegment(1); });
  }
};

/// Shared by std::map and std::unordered_map.
template <typename M>
struct MapCodec {
  using K = typename M::key_type;
  using V = typename M::mapped_type;
  static void Encode(Writer& w, const M& m) {
    w.MapHeader(m.size());
    for (const auto& kv : m) {
      EncodeAt(w, kv.first, [] { return std::string("[<key>]"); });
      EncodeAt(w, kv.second, [&kv] { return EncodeKeySegment(kv.first); });
    }
  }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, M& out,
                     const std::string& name) {
    if (o.type != msgpack::type::MAP) ThrowMismatch(o, name);
    out.clear();
    const msgpack::object_kv* p = o.via.map.ptr;
    for (uint32_t i = 0; i < o.via.map.size; ++i) {
      K k{};
      DecodeAt(p[i].key, ctx, k, [i] { return "[<key " + std::to_string(i) + ">]"; });
      V& v = out[std::move(k)];
      DecodeAt(p[i].val, ctx, v, [&p, i] { return MapKeySegment(p[i].key); });
    }
  }
};

/// map (sorted on decode).
template <typename K, typename V, typename C, typename A>
struct Codec<std::map<K, V, C, A>> {
  static std::string Name() {
    return "std::map<" + Codec<K>::Name() + ", " + Codec<V>::Name() + ">";
  }
  static void Encode(Writer& w, const std::map<K, V, C, A>& v) {
    MapCodec<std::map<K, V, C, A>>::Encode(w, v);
  }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, std::map<K, V, C, A>& out) {
    MapCodec<std::map<K, V, C, A>>::Decode(o, ctx, out, Name());
  }
};

/// map.
template <typename K, typename V, typename H, typename E, typename A>
struct Codec<std::unordered_map<K, V, H, E, A>> {
  using M = std::unordered_map<K, V, H, E, A>;
  static std::string Name() {
    return "std::unordered_map<" + Codec<K>::Name() + ", " + Codec<V>::Name() + ">";
  }
  static void Encode(Writer& w, const M& v) { MapCodec<M>::Encode(w, v); }
  static void Decode(const msgpack::object& o, const DecodeContext& ctx, M& out) {
    MapCodec<M>::Decode(o, ctx, out, Name());
  }
};

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_CODEC_CONTAINERS_H_

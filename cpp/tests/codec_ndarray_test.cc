// The C++ codec on ndarrays (ext 3): std::vector of numbers as 1-D
// ndarrays, dtype widening on decode, out-of-band buffers, NdArray<T> and
// the zero-copy NdSpan<T>.
//
// Invariants checked: vectors of numbers (not bool/uint8_t) encode as the
// ndarray of their dtype; data of at least the threshold goes out of band,
// numbered in encounter order; lossy dtype conversions are TypeErrors; an
// NdSpan over an aligned out-of-band buffer points into that buffer and
// shares the view's keepalive.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "polyray/codec.h"

#include "codec_test_util.h"

namespace polyray {
namespace {

using internal::Decode;
using internal::Encode;
using namespace testutil;  // NOLINT(google-build-using-namespace)

template <typename T>
std::string DecodeError(const internal::Encoded& e) {
  try {
    Decode<T>(ViewOf(e), "value");
  } catch (const TypeError& err) {
    return err.what();
  }
  return "";
}

template <typename T>
std::string Bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

XValue AsXValue(const internal::Encoded& e) { return Decode<XValue>(ViewOf(e), "value"); }

TEST(CodecNdArray, VectorsOfNumbersAreNdArrays) {
  // Same bytes as the vector ndarray_i4: [1, -2, 3] as "<i4".
  EXPECT_EQ(Hex(Encode(std::vector<int32_t>{1, -2, 3}).body),
            "c71503" "93a33c693491" "03c40c01000000feffffff03000000");
  const std::vector<double> d{1, 2, 3, 4};
  EXPECT_EQ(AsXValue(Encode(d)), XValue::NdArray(DType::kFloat64, {4}, Bytes(d)));
  const std::vector<int8_t> i1{-128, 127};
  EXPECT_EQ(AsXValue(Encode(i1)), XValue::NdArray(DType::kInt8, {2}, Bytes(i1)));
  const std::vector<uint16_t> u2{0, 65535};
  EXPECT_EQ(AsXValue(Encode(u2)), XValue::NdArray(DType::kUint16, {2}, Bytes(u2)));
  const std::vector<uint32_t> u4{7};
  EXPECT_EQ(AsXValue(Encode(u4)), XValue::NdArray(DType::kUint32, {1}, Bytes(u4)));
  const std::vector<int64_t> i8{-1, 5};
  EXPECT_EQ(AsXValue(Encode(i8)), XValue::NdArray(DType::kInt64, {2}, Bytes(i8)));
  const std::vector<uint64_t> u8{~0ull};
  EXPECT_EQ(AsXValue(Encode(u8)), XValue::NdArray(DType::kUint64, {1}, Bytes(u8)));
  const std::vector<float> f4{1.5f, -0.0f};
  EXPECT_EQ(AsXValue(Encode(f4)), XValue::NdArray(DType::kFloat32, {2}, Bytes(f4)));
  const std::vector<int16_t> empty;
  EXPECT_EQ(Hex(Encode(empty).body), "c70903" "93a33c693291" "00c400");
  // bool and uint8_t are not ndarrays: an array and a bin.
  EXPECT_EQ(Hex(Encode(std::vector<bool>{true}).body), "91c3");
  EXPECT_EQ(Hex(Encode(std::vector<uint8_t>{1}).body), "c40101");
}

TEST(CodecNdArray, VectorsRoundTrip) {
  EXPECT_EQ(RoundTrip(std::vector<double>{1.5, -2, 1e300}), (std::vector<double>{1.5, -2, 1e300}));
  EXPECT_EQ(RoundTrip(std::vector<int64_t>{INT64_MIN, INT64_MAX}),
            (std::vector<int64_t>{INT64_MIN, INT64_MAX}));
  EXPECT_EQ(RoundTrip(std::vector<char>{'a', 'b'}), (std::vector<char>{'a', 'b'}));
  EXPECT_EQ(RoundTrip(std::vector<float>{}), std::vector<float>{});
  const std::vector<std::vector<double>> nested{{1, 2}, {}, {3}};
  EXPECT_EQ(RoundTrip(nested), nested);
}

TEST(CodecNdArray, DecodesWithLosslessWidening) {
  const auto i4 = Encode(std::vector<int32_t>{1, -2});
  EXPECT_EQ(Decode<std::vector<int64_t>>(ViewOf(i4), "v"), (std::vector<int64_t>{1, -2}));
  EXPECT_EQ(Decode<std::vector<double>>(ViewOf(i4), "v"), (std::vector<double>{1, -2}));
  const auto u2 = Encode(std::vector<uint16_t>{65535});
  EXPECT_EQ(Decode<std::vector<int32_t>>(ViewOf(u2), "v"), (std::vector<int32_t>{65535}));
  EXPECT_EQ(Decode<std::vector<float>>(ViewOf(u2), "v"), (std::vector<float>{65535}));
  EXPECT_EQ(Decode<std::vector<uint64_t>>(ViewOf(u2), "v"), (std::vector<uint64_t>{65535}));
  const auto f4 = Encode(std::vector<float>{0.5f});
  EXPECT_EQ(Decode<std::vector<double>>(ViewOf(f4), "v"), (std::vector<double>{0.5}));
  EXPECT_EQ(DecodeError<std::vector<double>>(Encode(std::vector<int64_t>{1})),
            "value: expected C++ std::vector<double>, got XLANG ndarray <i8 [1] (dtype <i8 does not "
            "convert to <f8 without loss)");
  EXPECT_EQ(DecodeError<std::vector<int32_t>>(Encode(std::vector<uint32_t>{1})),
            "value: expected C++ std::vector<int32_t>, got XLANG ndarray <u4 [1] (dtype <u4 does not "
            "convert to <i4 without loss)");
  EXPECT_NE(DecodeError<std::vector<uint64_t>>(Encode(std::vector<int8_t>{1})).find("without loss"),
            std::string::npos);
  EXPECT_NE(DecodeError<std::vector<int64_t>>(Encode(std::vector<double>{1})).find("without loss"),
            std::string::npos);
}

TEST(CodecNdArray, VectorsAlsoDecodeFromArrays) {
  const XValue a = XValue::MakeArray({XValue::Int(1), XValue::Float(2.5)});
  EXPECT_EQ(Decode<std::vector<double>>(ViewOf(Encode(a)), "v"), (std::vector<double>{1, 2.5}));
  const XValue b = XValue::MakeArray({XValue::Int(1), XValue::Int(300)});
  EXPECT_EQ(DecodeError<std::vector<int8_t>>(Encode(b)),
            "value[1]: expected C++ int8_t, got XLANG int 300 (out of range)");
}

TEST(CodecNdArray, BoolAndByteVectorsDecodeFromNdArrays) {
  const auto b1 = Encode(XValue::NdArray(DType::kBool, {3}, std::string("\x01\x00\x01", 3)));
  EXPECT_EQ(Decode<std::vector<bool>>(ViewOf(b1), "v"), (std::vector<bool>{true, false, true}));
  const auto bad = Encode(XValue::NdArray(DType::kBool, {1}, std::string("\x02", 1)));
  EXPECT_NE(DecodeError<std::vector<bool>>(bad).find("a |b1 byte is not 0 or 1"), std::string::npos);
  const auto u1 = Encode(XValue::NdArray(DType::kUint8, {2}, std::string("\x07\xff", 2)));
  EXPECT_EQ(Decode<std::vector<uint8_t>>(ViewOf(u1), "v"), (std::vector<uint8_t>{7, 255}));
}

TEST(CodecNdArray, MultiDimensionalNeedsNdArray) {
  const NdArray<int32_t> m({2, 3}, {1, 2, 3, 4, 5, 6});
  const auto e = Encode(m);
  EXPECT_EQ(AsXValue(e).shape(), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(DecodeError<std::vector<int32_t>>(e),
            "value: expected C++ std::vector<int32_t>, got XLANG ndarray <i4 [2, 3] (not 1-D: decode as "
            "polyray::NdArray<T> or NdSpan<T>)");
  const NdArray<int64_t> wide = Decode<NdArray<int64_t>>(ViewOf(e), "v");
  EXPECT_EQ(wide.shape(), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(wide.data(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(RoundTrip(m), m);
  const NdArray<double> empty({0, 3}, {});
  EXPECT_EQ(RoundTrip(empty), empty);
  const NdArray<float> scalar({}, {2.5f});
  EXPECT_EQ(RoundTrip(scalar), scalar);
  EXPECT_THROW(NdArray<double>({2, 2}, {1, 2, 3}), TypeError);
  const XValue list = XValue::MakeArray({XValue::Int(4), XValue::Int(5)});
  EXPECT_EQ(Decode<NdArray<int16_t>>(ViewOf(Encode(list)), "v"), NdArray<int16_t>({4, 5}));
}

TEST(CodecNdArray, LargeDataGoesOutOfBand) {
  const std::vector<double> big(8192, 1.0);  // 64 KiB: at the threshold
  const internal::Encoded e = Encode(big);
  ASSERT_EQ(e.buffers.size(), 1u);
  EXPECT_EQ(e.buffers[0], Bytes(big));
  EXPECT_EQ(Hex(e.body), "c70a03" "93a33c663891" "cd2000" "00");
  EXPECT_EQ(internal::EncodedSize(e), e.body.size() + 65536);
  EXPECT_EQ(RoundTrip(big), big);
  EXPECT_TRUE(Encode(std::vector<double>(8191, 1.0)).buffers.empty());
  // A custom threshold, and buffers numbered in encounter order.
  const auto pair = std::make_tuple(std::vector<int16_t>{1, 2}, std::string("mid"),
                                    std::vector<int64_t>{3, 4}, std::vector<int32_t>{5});
  const internal::Encoded p = Encode(pair, "value", 8);
  ASSERT_EQ(p.buffers.size(), 1u);
  EXPECT_EQ(p.buffers[0], Bytes(std::vector<int64_t>{3, 4}));
  const internal::Encoded q = Encode(pair, "value", 4);
  ASSERT_EQ(q.buffers.size(), 3u);
  EXPECT_EQ(q.buffers[2], Bytes(std::vector<int32_t>{5}));
  EXPECT_EQ(RoundTrip(pair, 4), pair);
  EXPECT_TRUE(Encode(std::vector<double>{}, "value", 0).buffers.empty());  // empty: in band
}

TEST(CodecNdArray, BadOutOfBandReferencesAreTypeErrors) {
  internal::Encoded e = Encode(std::vector<double>(10, 1.0), "value", 8);
  internal::Encoded missing = e;
  missing.buffers.clear();
  EXPECT_NE(DecodeError<std::vector<double>>(missing).find(
                "ndarray data is out-of-band buffer 0 but the value has 0 buffers"),
            std::string::npos);
  internal::Encoded short_buffer = e;
  short_buffer.buffers[0].resize(8);
  EXPECT_NE(DecodeError<XValue>(short_buffer).find("ndarray data has 8 bytes, its shape needs 80"),
            std::string::npos);
}

TEST(CodecNdSpan, ViewsAlignedOutOfBandDataWithoutACopy) {
  const std::vector<double> values(10000, 0.25);
  const internal::Encoded e = Encode(values);
  ASSERT_EQ(e.buffers.size(), 1u);
  // The receiver's memory: an aligned buffer holding the out-of-band data.
  auto memory = std::shared_ptr<double[]>(new double[values.size()]);
  std::memcpy(memory.get(), e.buffers[0].data(), e.buffers[0].size());
  internal::ValueView view;
  view.body = e.body;
  view.buffers.emplace_back(reinterpret_cast<const char*>(memory.get()), e.buffers[0].size());
  view.keepalive = memory;
  const long before = memory.use_count();
  NdSpan<double> span = Decode<NdSpan<double>>(view, "v");
  EXPECT_EQ(span.data(), memory.get());
  EXPECT_TRUE(span.is_view());
  EXPECT_EQ(span.size(), values.size());
  EXPECT_EQ(span.shape(), (std::vector<uint64_t>{10000}));
  EXPECT_EQ(span[9999], 0.25);
  EXPECT_EQ(memory.use_count(), before + 1);  // the span pins the memory
  view = internal::ValueView();
  EXPECT_EQ(span.keepalive().get(), static_cast<const void*>(memory.get()));
  // Re-encoding a span sends the same ndarray.
  EXPECT_EQ(Encode(span).body, e.body);
}

TEST(CodecNdSpan, InBandDataIsViewedOrCopied) {
  const NdArray<int32_t> m({2, 2}, {1, 2, 3, 4});
  const NdSpan<int32_t> span = Decode<NdSpan<int32_t>>(ViewOf(Encode(m)), "v");
  EXPECT_EQ(std::vector<int32_t>(span.begin(), span.end()), m.data());
  EXPECT_EQ(span.shape(), m.shape());
  const auto b1 = Encode(XValue::NdArray(DType::kBool, {2}, std::string("\x01\x00", 2)));
  const NdSpan<bool> bits = Decode<NdSpan<bool>>(ViewOf(b1), "v");
  EXPECT_TRUE(bits[0]);
  EXPECT_FALSE(bits[1]);
  EXPECT_TRUE(bits.is_view());  // bytes are always aligned for bool
  EXPECT_EQ(DecodeError<NdSpan<int64_t>>(Encode(m)),
            "value: expected C++ polyray::NdSpan<int64_t>, got XLANG ndarray <i4 [2, 2] (an NdSpan "
            "needs dtype <i8 exactly; decode as NdArray<T> to convert)");
}

}  // namespace
}  // namespace polyray

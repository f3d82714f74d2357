// The store object layout of an envelope (docs/protocol.md §11):
// ComputeStoreLayout / WriteStoreData / ViewStoreObject.
//
// Invariants checked: the metadata bytes field by field; buffers at 64-byte
// aligned offsets with zero padding; a round trip decodes the same value
// with views into the data (an NdSpan pointing into the "shared" memory);
// malformed metadata is a polyray::Error.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "codec/store_layout.h"
#include "polyray/codec.h"

#include "codec_test_util.h"

namespace polyray {
namespace {

using internal::ComputeStoreLayout;
using internal::ViewStoreObject;
using internal::WriteStoreData;
using testutil::Hex;

/// 64-byte aligned memory, like a store object's data.
std::shared_ptr<char> Aligned(size_t n, char fill) {
  char* p = static_cast<char*>(std::aligned_alloc(64, ((n + 63) / 64) * 64 + 64));
  std::memset(p, fill, n);
  return std::shared_ptr<char>(p, [](char* q) { std::free(q); });
}

TEST(CodecStoreLayout, MetadataAndAlignedBuffers) {
  internal::Encoded e;
  e.format = Format::kXlang;
  e.body = std::string(10, 'b');
  e.buffers = {std::string(100, 'x'), std::string(5, 'y')};
  const internal::StoreLayout layout = ComputeStoreLayout(e);
  EXPECT_EQ(Hex(layout.metadata),
            "50525945" "01" "00" "0000" "02000000" "00000000" "0a00000000000000"
            "4000000000000000" "6400000000000000"
            "c000000000000000" "0500000000000000");
  EXPECT_EQ(layout.data_size, 197u);
  auto data = Aligned(layout.data_size, '\xaa');
  WriteStoreData(e, layout, data.get());
  const std::string written(data.get(), layout.data_size);
  EXPECT_EQ(written.substr(0, 10), e.body);
  EXPECT_EQ(written.substr(10, 54), std::string(54, '\0'));
  EXPECT_EQ(written.substr(64, 100), e.buffers[0]);
  EXPECT_EQ(written.substr(164, 28), std::string(28, '\0'));
  EXPECT_EQ(written.substr(192, 5), e.buffers[1]);
  const internal::ValueView v = ViewStoreObject(layout.metadata, written, nullptr);
  EXPECT_EQ(v.format, Format::kXlang);
  EXPECT_EQ(v.body, e.body);
  ASSERT_EQ(v.buffers.size(), 2u);
  EXPECT_EQ(v.buffers[0], e.buffers[0]);
  EXPECT_EQ(v.buffers[1], e.buffers[1]);
}

TEST(CodecStoreLayout, NoBuffersAndOtherFormats) {
  internal::Encoded e;
  e.format = Format::kRaw;
  e.body = "raw";
  const internal::StoreLayout layout = ComputeStoreLayout(e);
  EXPECT_EQ(layout.metadata.size(), 24u);
  EXPECT_EQ(layout.metadata[5], 2);
  EXPECT_EQ(layout.data_size, 3u);
  char data[3];
  WriteStoreData(e, layout, data);
  const internal::ValueView v = ViewStoreObject(layout.metadata, std::string_view(data, 3), nullptr);
  EXPECT_EQ(v.format, Format::kRaw);
  EXPECT_EQ(v.body.data(), data);
  internal::Encoded empty;
  EXPECT_EQ(ComputeStoreLayout(empty).data_size, 0u);
}

TEST(CodecStoreLayout, RoundTripIsZeroCopy) {
  std::vector<double> big(20000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i);
  const auto value = std::make_tuple(std::string("label"), big, std::vector<int32_t>(30000, 7));
  const internal::Encoded e = internal::Encode(value);
  ASSERT_EQ(e.buffers.size(), 2u);
  const internal::StoreLayout layout = ComputeStoreLayout(e);
  auto data = Aligned(layout.data_size, '\x55');
  WriteStoreData(e, layout, data.get());
  const internal::ValueView v =
      ViewStoreObject(layout.metadata, std::string_view(data.get(), layout.data_size), data);
  for (const auto& b : v.buffers) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
    EXPECT_GE(b.data(), data.get());
  }
  EXPECT_EQ(internal::Decode<decltype(value)>(v, "v"), value);
  const auto spans =
      internal::Decode<std::tuple<std::string, NdSpan<double>, NdSpan<int32_t>>>(v, "v");
  const NdSpan<double>& span = std::get<1>(spans);
  EXPECT_TRUE(span.is_view());
  EXPECT_EQ(static_cast<const void*>(span.data()), static_cast<const void*>(v.buffers[0].data()));
  EXPECT_EQ(span[19999], 19999.0);
  EXPECT_EQ(span.keepalive(), std::static_pointer_cast<const void>(data));
  EXPECT_EQ(std::get<2>(spans)[29999], 7);
}

TEST(CodecStoreLayout, MalformedMetadataIsAnError) {
  internal::Encoded e;
  e.body = "body";
  e.buffers = {"buf"};
  const internal::StoreLayout layout = ComputeStoreLayout(e);
  std::string data(layout.data_size, '\0');
  WriteStoreData(e, layout, data.data());
  auto expect_error = [&](std::string meta, std::string_view d, const std::string& needle) {
    try {
      ViewStoreObject(meta, d, nullptr);
      ADD_FAILURE() << "accepted " << needle;
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find(needle), std::string::npos) << err.what();
    }
  };
  expect_error(layout.metadata.substr(0, 20), data, "shorter than the envelope header");
  std::string bad_magic = layout.metadata;
  bad_magic[0] = 'X';
  expect_error(bad_magic, data, "PRYE");
  std::string bad_version = layout.metadata;
  bad_version[4] = 2;
  expect_error(bad_version, data, "layout version 2");
  std::string bad_format = layout.metadata;
  bad_format[5] = 9;
  expect_error(bad_format, data, "unknown format 9");
  expect_error(layout.metadata + "x", data, "1 buffers need 40");
  expect_error(layout.metadata, std::string_view(data).substr(0, 3), "body of 4 bytes exceeds");
  expect_error(layout.metadata, std::string_view(data).substr(0, 66), "buffer 0 [64, 67) exceeds");
}

}  // namespace
}  // namespace polyray

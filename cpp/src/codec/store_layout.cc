// The store object layout of an envelope (store_layout.h, docs/protocol.md §11).
//
// Invariants: see store_layout.h; every length read from metadata is checked
// against the data before a view is made.
#include "codec/store_layout.h"

#include <cstring>
#include <string>

#include "polyray/exceptions.h"

namespace polyray {
namespace internal {

namespace {

constexpr char kMagic[4] = {'P', 'R', 'Y', 'E'};
constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderSize = 24;
constexpr size_t kEntrySize = 16;

size_t AlignUp(size_t n) { return (n + kStoreAlignment - 1) & ~(kStoreAlignment - 1); }

void PutLe(std::string& out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetLe(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

StoreLayout ComputeStoreLayout(const Encoded& value) {
  StoreLayout layout;
  std::string& meta = layout.metadata;
  meta.reserve(kHeaderSize + kEntrySize * value.buffers.size());
  meta.append(kMagic, 4);
  meta.push_back(static_cast<char>(kVersion));
  meta.push_back(static_cast<char>(value.format));
  PutLe(meta, 0, 2);
  PutLe(meta, value.buffers.size(), 4);
  PutLe(meta, 0, 4);
  PutLe(meta, value.body.size(), 8);
  size_t end = value.body.size();
  for (const auto& b : value.buffers) {
    const size_t offset = AlignUp(end);
    PutLe(meta, offset, 8);
    PutLe(meta, b.size(), 8);
    end = offset + b.size();
  }
  layout.data_size = end;
  return layout;
}

void WriteStoreData(const Encoded& value, const StoreLayout& layout, void* data) {
  char* out = static_cast<char*>(data);
  if (!value.body.empty()) std::memcpy(out, value.body.data(), value.body.size());
  size_t end = value.body.size();
  for (size_t i = 0; i < value.buffers.size(); ++i) {
    const size_t offset = static_cast<size_t>(GetLe(layout.metadata.data() + kHeaderSize + i * kEntrySize, 8));
    if (offset > end) std::memset(out + end, 0, offset - end);  // deterministic padding
    const std::string& b = value.buffers[i];
    if (!b.empty()) std::memcpy(out + offset, b.data(), b.size());
    end = offset + b.size();
  }
}

ValueView ViewStoreObject(std::string_view metadata, std::string_view data,
                          std::shared_ptr<const void> keepalive) {
  if (metadata.size() < kHeaderSize) {
    throw Error("store object metadata is " + std::to_string(metadata.size()) +
                " bytes, shorter than the envelope header (24)");
  }
  if (std::memcmp(metadata.data(), kMagic, 4) != 0) {
    throw Error("store object metadata does not start with \"PRYE\": not a polyray envelope");
  }
  const uint8_t version = static_cast<uint8_t>(metadata[4]);
  if (version != kVersion) {
    throw Error("store object layout version " + std::to_string(version) +
                " is not supported (expected 1)");
  }
  const uint8_t format = static_cast<uint8_t>(metadata[5]);
  if (format > static_cast<uint8_t>(Format::kError)) {
    throw Error("store object has unknown format " + std::to_string(format));
  }
  const uint64_t count = GetLe(metadata.data() + 8, 4);
  const uint64_t body_len = GetLe(metadata.data() + 16, 8);
  if (metadata.size() != kHeaderSize + count * kEntrySize) {
    throw Error("store object metadata is " + std::to_string(metadata.size()) + " bytes, " +
                std::to_string(count) + " buffers need " +
                std::to_string(kHeaderSize + count * kEntrySize));
  }
  if (body_len > data.size()) {
    throw Error("store object body of " + std::to_string(body_len) + " bytes exceeds its data (" +
                std::to_string(data.size()) + ")");
  }
  ValueView view;
  view.format = static_cast<Format>(format);
  view.body = data.substr(0, body_len);
  view.buffers.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const char* entry = metadata.data() + kHeaderSize + i * kEntrySize;
    const uint64_t offset = GetLe(entry, 8);
    const uint64_t length = GetLe(entry + 8, 8);
    if (offset > data.size() || length > data.size() - offset) {
      throw Error("store object buffer " + std::to_string(i) + " [" + std::to_string(offset) + ", " +
                  std::to_string(offset + length) + ") exceeds its data (" +
                  std::to_string(data.size()) + ")");
    }
    view.buffers.push_back(data.substr(offset, length));
  }
  view.keepalive = std::move(keepalive);
  return view;
}

}  // namespace internal
}  // namespace polyray

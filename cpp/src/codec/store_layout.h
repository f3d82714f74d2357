// An envelope as one shared-store object (docs/protocol.md §11). The core
// calls these when it puts or gets a value through the node's store:
//
//   StoreLayout layout = ComputeStoreLayout(encoded);
//   ObjectBuilder b = store.CreateObject(id, layout.data_size, layout.metadata.size());
//   WriteStoreData(encoded, layout, b.data());
//   memcpy(b.metadata(), layout.metadata.data(), layout.metadata.size()); b.Seal();
//   ...
//   auto view = std::make_shared<ObjectView>(store.GetOne(id, timeout));
//   ValueView v = ViewStoreObject(meta, data, view);   // zero copy; v.keepalive pins it
//
// Invariants:
//  - metadata = "PRYE", version 1, format, reserved 0, buffer count N (u32),
//    reserved 0, body length (u64), then (offset u64, length u64) per buffer,
//    all little-endian; 24 + 16N bytes.
//  - data = body at 0, each buffer at the first multiple of 64 at or after
//    the end of the previous part, zero padding between; data size = end of
//    the last buffer (the body length when N = 0).
//  - ViewStoreObject validates everything before returning views into
//    `data` (no copy) and throws polyray::Error naming what is wrong.
#ifndef POLYRAY_SRC_CODEC_STORE_LAYOUT_H_
#define POLYRAY_SRC_CODEC_STORE_LAYOUT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "polyray/internal/runtime.h"

namespace polyray {
namespace internal {

/// Alignment of every buffer inside a store object's data.
constexpr size_t kStoreAlignment = 64;

/// Where an envelope goes in a store object.
struct StoreLayout {
  /// The metadata part, ready to copy.
  std::string metadata;
  /// Bytes of the data part.
  size_t data_size = 0;
};

/// The metadata and data size of `value` as a store object.
StoreLayout ComputeStoreLayout(const Encoded& value);

/// Writes `value`'s body, padding and buffers into `data` (layout.data_size
/// writable bytes; `layout` from ComputeStoreLayout(value)).
void WriteStoreData(const Encoded& value, const StoreLayout& layout, void* data);

/// The envelope in a store object: views into `data` (no copy) kept valid by
/// `keepalive` (e.g. the pinned ObjectView). Throws polyray::Error when the
/// metadata is not a layout-1 envelope or does not fit the data.
ValueView ViewStoreObject(std::string_view metadata, std::string_view data,
                          std::shared_ptr<const void> keepalive);

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_SRC_CODEC_STORE_LAYOUT_H_

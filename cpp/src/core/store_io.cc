// StoreIo of store_io.h. The object layout (metadata "PRYE" + body and
// 64-byte aligned buffers in data, docs/protocol.md §11) is the codec's
// (codec/store_layout.h).
#include "core/store_io.h"

#include <cstring>
#include <stdexcept>

#include "codec/store_layout.h"

namespace polyray::core {

void StoreIo::SetName(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (name.empty() || name == name_) return;
  name_ = name;
  store_.reset();
}

std::string StoreIo::name() {
  std::lock_guard<std::mutex> lock(mu_);
  return name_;
}

polyray::Store& StoreIo::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!store_) store_.emplace(polyray::Store::Open(name_));
  return *store_;
}

void StoreIo::WriteSealed(const std::string& oid, const internal::Encoded& value) {
  polyray::Store& s = Open();
  internal::StoreLayout layout = internal::ComputeStoreLayout(value);
  try {
    polyray::ObjectBuilder b =
        s.CreateObject(polyray::ObjectId::FromBinary(oid), layout.data_size, layout.metadata.size());
    internal::WriteStoreData(value, layout, b.data());
    std::memcpy(b.metadata(), layout.metadata.data(), layout.metadata.size());
    b.Seal();  // a throw before this aborts the object (ObjectBuilder's destructor)
  } catch (const polyray::ObjectExistsError&) {
    // A retried task already sealed it here: that copy is the value.
  }
}

std::optional<internal::ValueView> StoreIo::Read(const std::string& oid, int64_t timeout_ms) {
  polyray::Store& s = Open();
  std::shared_ptr<polyray::ObjectView> view;
  try {
    view = std::make_shared<polyray::ObjectView>(s.GetOne(polyray::ObjectId::FromBinary(oid), timeout_ms));
  } catch (const polyray::StoreTimeoutError&) {
    return std::nullopt;
  }
  std::string_view metadata(reinterpret_cast<const char*>(view->metadata()), view->metadata_size());
  std::string_view data(reinterpret_cast<const char*>(view->data()), view->size());
  return internal::ViewStoreObject(metadata, data, std::move(view));
}

std::shared_ptr<polyray::ObjectView> StoreIo::Pin(const std::string& oid, int64_t timeout_ms) {
  polyray::Store& s = Open();
  return std::make_shared<polyray::ObjectView>(s.GetOne(polyray::ObjectId::FromBinary(oid), timeout_ms));
}

}  // namespace polyray::core

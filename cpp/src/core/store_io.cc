// StoreIo of store_io.h. The object layout (metadata "PRYE" + body and
// 64-byte aligned buffers in data, docs/protocol.md §11) is the codec's
// (codec/store_layout.h).
#include "core/store_io.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
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

StoreIo::~StoreIo() {
  stop_prefault_ = true;
  if (prefault_.joinable()) prefault_.join();
}

uint64_t StoreIo::PrefaultBytesFromEnv() {
  const char* text = std::getenv("POLYRAY_STORE_PREFAULT");
  if (text == nullptr || *text == '\0') return 256ull << 20;
  std::string t(text);
  for (char& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (t == "OFF" || t == "FALSE" || t == "NO") return 0;
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (end == t.c_str() || v < 0) return 0;
  std::string unit(end);
  if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "IB") unit.resize(unit.size() - 2);
  else if (!unit.empty() && unit.back() == 'B') unit.pop_back();
  double scale = unit.empty() ? 1 : unit == "K" ? 1024.0 : unit == "M" ? 1048576.0 : unit == "G" ? 1073741824.0 : -1;
  return scale < 0 ? 0 : static_cast<uint64_t>(v * scale);
}

void StoreIo::PrefaultInBackground(uint64_t limit) {
  if (limit == 0 || prefault_.joinable()) return;
  prefault_ = std::thread([this, limit] {
    // This thread only: a low share of the CPU while anything else wants it.
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
    try {
      polyray::Store& s = Open();
      const uint64_t chunk = 8ull << 20;
      for (uint64_t at = 0; at < limit && !stop_prefault_;) {
        uint64_t n = s.Prefault(at, std::min(chunk, limit - at));
        if (n == 0) break;
        at += n;
      }
    } catch (const std::exception&) {
      // No segment, or /dev/shm full: the pages fault on first use instead.
    }
  });
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

// EarlyReads of early_reads.h.
#include "core/early_reads.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

namespace polyray::core {

bool EarlyReads::LocalReadsEnabled() {
  const char* v = std::getenv("POLYRAY_LOCAL_READS");
  return !(v && std::strcmp(v, "0") == 0);
}

std::optional<internal::ValueView> EarlyReads::CopyPlain(const internal::ValueView& v) {
  if (v.format != Format::kXlang || !v.buffers.empty()) return std::nullopt;
  auto bytes = std::make_shared<const std::string>(v.body);
  internal::ValueView copy;
  copy.format = Format::kXlang;
  copy.body = std::string_view(*bytes);
  copy.keepalive = std::move(bytes);
  return copy;
}

bool EarlyReads::AnsweredStored(const EntryPtr& e) {
  return e && !e->envelope && e->owner && !e->in_store_node.empty();
}

size_t EarlyReads::Read(const std::vector<std::string>& ids, const Reader& read) {
  for (size_t k = 0; k < ids.size(); k += kBatch) {
    std::vector<std::string> chunk(ids.begin() + static_cast<std::ptrdiff_t>(k),
                                   ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), k + kBatch)));
    std::vector<std::optional<internal::ValueView>> views;
    try {
      views = read(chunk);
    } catch (const std::exception&) {
      break;  // no store here (closed, shutting down): read after the answers
    }
    for (size_t i = 0; i < chunk.size() && i < views.size(); ++i) {
      if (!views[i]) continue;
      std::optional<internal::ValueView> copy = CopyPlain(*views[i]);
      views[i].reset();  // the pin goes once the bytes are copied
      if (copy) copies_.insert_or_assign(chunk[i], std::move(*copy));
    }
  }
  return copies_.size();
}

std::optional<internal::ValueView> EarlyReads::Take(const std::string& oid, const EntryPtr& e) {
  if (copies_.empty() || !AnsweredStored(e)) return std::nullopt;
  auto it = copies_.find(oid);
  if (it == copies_.end()) return std::nullopt;
  internal::ValueView v = std::move(it->second);
  copies_.erase(it);
  // The answer's entry holds the value's nested references; the copy its bytes.
  v.keepalive = std::make_shared<std::pair<EntryPtr, std::shared_ptr<const void>>>(e, std::move(v.keepalive));
  return v;
}

}  // namespace polyray::core

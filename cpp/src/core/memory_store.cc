// MemoryStore of memory_store.h.
#include "core/memory_store.h"

#include "core/common.h"

namespace polyray::core {

EntryPtr InlineEntry(rpc::Envelope envelope, uint64_t size, std::vector<internal::RefPtr> nested) {
  auto e = std::make_shared<ObjectEntry>();
  e->envelope = std::make_shared<const rpc::Envelope>(std::move(envelope));
  e->size = size;
  e->nested = std::move(nested);
  return e;
}

EntryPtr StoreEntry(const std::string& node_id, uint64_t size, std::vector<internal::RefPtr> nested) {
  auto e = std::make_shared<ObjectEntry>();
  e->in_store_node = node_id;
  e->size = size;
  e->nested = std::move(nested);
  return e;
}

EntryPtr ErrorEntry(const rpc::ErrorRecord& record) {
  rpc::Envelope env = ErrorEnvelope(record);
  uint64_t size = env.body().size();
  return InlineEntry(std::move(env), size);
}

void MemoryStore::Set(const std::string& oid, EntryPtr entry) {
  std::vector<std::pair<uint64_t, Callback>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = ready_.emplace(oid, entry);
    if (!inserted) return;  // the first value wins; `entry` dies outside the lock
    auto w = waiting_.find(oid);
    if (w != waiting_.end()) {
      callbacks = std::move(w->second);
      waiting_.erase(w);
    }
  }
  for (auto& [token, cb] : callbacks) cb(entry);
}

EntryPtr MemoryStore::GetIfReady(const std::string& oid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ready_.find(oid);
  return it == ready_.end() ? nullptr : it->second;
}

uint64_t MemoryStore::Subscribe(const std::string& oid, Callback cb) {
  EntryPtr now;
  uint64_t token = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = ready_.find(oid);
    if (it != ready_.end()) {
      now = it->second;
    } else {
      token = next_token_++;
      waiting_[oid].emplace_back(token, std::move(cb));
    }
  }
  if (now) cb(now);
  return token;
}

void MemoryStore::Unsubscribe(const std::string& oid, uint64_t token) {
  Callback dropped;
  std::lock_guard<std::mutex> lock(mu_);
  auto w = waiting_.find(oid);
  if (w == waiting_.end()) return;
  auto& v = w->second;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it->first == token) {
      dropped = std::move(it->second);
      v.erase(it);
      break;
    }
  }
  if (v.empty()) waiting_.erase(w);
}

bool MemoryStore::Contains(const std::string& oid) const {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_.count(oid) > 0 || waiting_.count(oid) > 0;
}

void MemoryStore::Delete(const std::string& oid) {
  EntryPtr gone;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ready_.find(oid);
  if (it == ready_.end()) return;
  gone = std::move(it->second);
  ready_.erase(it);
  // `gone` is destroyed after the lock_guard: declared first, destroyed last.
}

void MemoryStore::FailWaiters(const EntryPtr& entry) {
  std::unordered_map<std::string, std::vector<std::pair<uint64_t, Callback>>> waiting;
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiting.swap(waiting_);
  }
  for (auto& [oid, callbacks] : waiting) {
    for (auto& [token, cb] : callbacks) cb(entry);
  }
}

size_t MemoryStore::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_.size();
}

}  // namespace polyray::core

// Lineage of lineage.h.
#include "core/lineage.h"

#include <cstdlib>
#include <stdexcept>

#include "core/ids.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {

int64_t LineageMaxBytes(int64_t configured) {
  const char* raw = std::getenv(kLineageMaxBytesEnv);
  if (raw != nullptr && *raw != '\0') {
    char* end = nullptr;
    long long v = std::strtoll(raw, &end, 10);
    while (end != nullptr && (*end == ' ' || *end == '\n' || *end == '\t')) ++end;
    if (end == raw || (end != nullptr && *end != '\0')) {
      throw std::invalid_argument(std::string(kLineageMaxBytesEnv) + "=" + raw + " is not a whole number of bytes");
    }
    if (v < 0) throw std::invalid_argument(std::string(kLineageMaxBytesEnv) + "=" + raw + " must be >= 0");
    return v;
  }
  return configured >= 0 ? configured : spec::kLineageMaxBytes;
}

bool IsPutId(const std::string& oid) {
  return oid.size() == 28 && (static_cast<unsigned char>(oid[27]) & 0x80) != 0;
}

std::vector<std::string> ReturnIds(const rpc::TaskSpec& spec) {
  std::vector<std::string> out;
  for (int i = 1; i <= spec.num_returns(); ++i) out.push_back(ReturnId(spec.task_id(), i));
  return out;
}

void Lineage::Record(const rpc::TaskSpec& spec, const std::vector<std::string>& arg_ids,
                     const std::vector<std::string>& stored_returns) {
  std::vector<std::vector<std::string>> release;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(spec.task_id());
    if (it != entries_.end()) {
      it->second.spec = spec;
      release.push_back(arg_ids);
    } else {
      Kept k;
      k.spec = spec;
      k.arg_ids = arg_ids;
      k.live.insert(stored_returns.begin(), stored_returns.end());
      k.size = static_cast<int64_t>(spec.ByteSizeLong()) + 28 * static_cast<int64_t>(arg_ids.size() + k.live.size());
      order_.push_back(spec.task_id());
      k.order = std::prev(order_.end());
      for (const std::string& oid : k.live) {
        by_object_[oid] = spec.task_id();
        evicted_.erase(oid);
      }
      bytes_used_ += k.size;
      entries_.emplace(spec.task_id(), std::move(k));
      while (bytes_used_ > max_bytes_ && !order_.empty()) {
        auto victim = entries_.find(order_.front());
        order_.pop_front();
        bytes_used_ -= victim->second.size;
        evictions_++;
        for (const std::string& oid : victim->second.live) {
          by_object_.erase(oid);
          evicted_.insert(oid);
        }
        release.push_back(std::move(victim->second.arg_ids));
        entries_.erase(victim);
      }
    }
  }
  for (const auto& ids : release) {
    if (!ids.empty()) release_args_(ids);
  }
}

void Lineage::OnFree(const std::string& oid) {
  std::vector<std::string> release;
  {
    std::lock_guard<std::mutex> lock(mu_);
    evicted_.erase(oid);
    auto b = by_object_.find(oid);
    if (b == by_object_.end()) return;
    std::string tid = b->second;
    by_object_.erase(b);
    auto it = entries_.find(tid);
    if (it == entries_.end()) return;
    it->second.live.erase(oid);
    if (!it->second.live.empty()) return;
    bytes_used_ -= it->second.size;
    order_.erase(it->second.order);
    release = std::move(it->second.arg_ids);
    entries_.erase(it);
  }
  if (!release.empty()) release_args_(release);
}

std::optional<Lineage::Entry> Lineage::OfObject(const std::string& oid) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto b = by_object_.find(oid);
  if (b == by_object_.end()) return std::nullopt;
  auto it = entries_.find(b->second);
  if (it == entries_.end()) return std::nullopt;
  return Entry{it->second.spec, it->second.arg_ids};
}

bool Lineage::WasEvicted(const std::string& oid) const {
  std::lock_guard<std::mutex> lock(mu_);
  return evicted_.count(oid) > 0;
}

bool Lineage::BeginRecovery(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return recovering_.insert(task_id).second;
}

bool Lineage::EndRecovery(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return recovering_.erase(task_id) > 0;
}

bool Lineage::Recovering(const std::string& task_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return recovering_.count(task_id) > 0;
}

int64_t Lineage::bytes_used() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_used_;
}

int64_t Lineage::evictions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return evictions_;
}

size_t Lineage::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace polyray::core

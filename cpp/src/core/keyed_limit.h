// A counting limit per key: at most `limit` holders of one key at once (the
// C++ ObjectPuller's cap on ReadObject streams per serving node, the runtime
// spec's [fanout] max_pulls_in_flight_per_node). Acquire blocks until a slot
// of the key is free or the deadline passes; a Slot gives it back when it
// goes. Keys without holders take no memory.
//
// Invariants: at most `limit` live Slots per key; a waiter is woken when a
// slot of its key frees. Thread-safe.
#ifndef POLYRAY_CORE_KEYED_LIMIT_H_
#define POLYRAY_CORE_KEYED_LIMIT_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <unordered_map>

namespace polyray::core {

/// See the file comment.
class KeyedLimit {
 public:
  explicit KeyedLimit(int limit) : limit_(limit) {}
  KeyedLimit(const KeyedLimit&) = delete;
  KeyedLimit& operator=(const KeyedLimit&) = delete;

  /// A held slot (empty when the deadline passed first); released when destroyed.
  class Slot {
   public:
    Slot() = default;
    Slot(KeyedLimit* owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    Slot(Slot&& o) noexcept : owner_(o.owner_), key_(std::move(o.key_)) { o.owner_ = nullptr; }
    Slot& operator=(Slot&& o) noexcept {
      if (this != &o) {
        Release();
        owner_ = o.owner_;
        key_ = std::move(o.key_);
        o.owner_ = nullptr;
      }
      return *this;
    }
    ~Slot() { Release(); }
    explicit operator bool() const { return owner_ != nullptr; }
    void Release() {
      if (owner_ != nullptr) owner_->Give(key_);
      owner_ = nullptr;
    }

   private:
    KeyedLimit* owner_ = nullptr;
    std::string key_;
  };

  /// Waits (up to `timeout`) for a slot of `key`.
  Slot Acquire(const std::string& key, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    bool got = cv_.wait_for(lock, timeout, [&] {
      auto it = held_.find(key);
      return it == held_.end() || it->second < limit_;
    });
    if (!got) return Slot();
    held_[key]++;
    return Slot(this, key);
  }
  /// Slots of `key` held now (for tests).
  int held(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = held_.find(key);
    return it == held_.end() ? 0 : it->second;
  }
  int limit() const { return limit_; }

 private:
  void Give(const std::string& key) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = held_.find(key);
      if (it != held_.end() && --it->second <= 0) held_.erase(it);
    }
    cv_.notify_all();
  }

  const int limit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, int> held_;  // guarded by mu_
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_KEYED_LIMIT_H_

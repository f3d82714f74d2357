// The values this process knows: objects it owns (put values, task returns)
// and borrowed objects fetched from their owners. An entry is an inline
// envelope (an ERROR envelope for a failure) or the node whose shared store
// holds the object. Waiters subscribe and are called once the entry is set.
//
// Invariants: an object's entry is set at most once while it is known (the
// first Set wins; Delete forgets it); subscriber callbacks run exactly once,
// outside the store's lock, on the thread that sets the entry (or at once in
// Subscribe when it is already known); entries are destroyed outside the lock
// (their nested references may call back into the runtime).
#ifndef POLYRAY_CORE_MEMORY_STORE_H_
#define POLYRAY_CORE_MEMORY_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"

namespace polyray::core {

/// One known object.
struct ObjectEntry {
  /// The inline value (FORMAT_ERROR for a failure); null when in a store.
  std::shared_ptr<const rpc::Envelope> envelope;
  /// The node whose store holds the object (when `envelope` is null).
  std::string in_store_node;
  /// Every node known to hold a copy, `in_store_node` first (a borrowed
  /// object: the owner's GetObject `locations`); where a pull may read it.
  std::vector<std::string> locations;
  /// A borrowed object's owner (told of copies pulled here); null when owned.
  std::shared_ptr<const rpc::Address> owner;
  /// Encoded size of the value.
  uint64_t size = 0;
  /// References nested in the value, held (counted) while the entry lives.
  std::vector<internal::RefPtr> nested;

  /// Whether the value is an error.
  bool is_error() const { return envelope && envelope->format() == rpc::FORMAT_ERROR; }
};
using EntryPtr = std::shared_ptr<const ObjectEntry>;

/// An inline entry.
EntryPtr InlineEntry(rpc::Envelope envelope, uint64_t size, std::vector<internal::RefPtr> nested = {});
/// An entry of an object in a node's store.
EntryPtr StoreEntry(const std::string& node_id, uint64_t size, std::vector<internal::RefPtr> nested = {});
/// An error entry.
EntryPtr ErrorEntry(const rpc::ErrorRecord& record);

/// Known objects and their waiters. Thread-safe.
class MemoryStore {
 public:
  using Callback = std::function<void(const EntryPtr&)>;

  /// Records an object's entry (the first one wins) and calls its waiters.
  void Set(const std::string& oid, EntryPtr entry);
  /// The entry, or null.
  EntryPtr GetIfReady(const std::string& oid) const;
  /// Calls `cb` once the entry is known: at once (on this thread) when it is,
  /// else from Set. Returns a token for Unsubscribe (0 when it ran at once).
  uint64_t Subscribe(const std::string& oid, Callback cb);
  /// Drops a subscription that has not run yet.
  void Unsubscribe(const std::string& oid, uint64_t token);
  /// Whether the object has an entry or a waiter.
  bool Contains(const std::string& oid) const;
  /// Forgets an object (freed). Waiters keep waiting for a later Set.
  void Delete(const std::string& oid);
  /// Completes every waiter with `entry` (shutdown).
  void FailWaiters(const EntryPtr& entry);
  /// How many values are known.
  size_t Size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, EntryPtr> ready_;
  std::unordered_map<std::string, std::vector<std::pair<uint64_t, Callback>>> waiting_;
  uint64_t next_token_ = 1;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_MEMORY_STORE_H_

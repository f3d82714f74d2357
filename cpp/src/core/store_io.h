// This process's access to its node's shared store: writing an encoded value
// as one sealed store object (protocol.md §11 layout) and reading one back
// as a zero-copy ValueView.
//
// Invariants: the store is opened once, on first use (a worker's raylet may
// name another segment than its environment, SetName before first use);
// a ValueView read here points into the shared mapping and its keepalive
// holds the object's pin; an object already sealed under an ID (a retried
// task on this node) is left as it is.
#ifndef POLYRAY_CORE_STORE_IO_H_
#define POLYRAY_CORE_STORE_IO_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "polyray/internal/runtime.h"
#include "polyray/store.h"

namespace polyray::core {

/// The node's store, opened lazily; thread-safe.
class StoreIo {
 public:
  explicit StoreIo(std::string name) : name_(std::move(name)) {}
  /// Stops a prefault in progress (after its chunk in flight).
  ~StoreIo();
  StoreIo(const StoreIo&) = delete;
  StoreIo& operator=(const StoreIo&) = delete;

  /// Opens the store and populates its first `limit` bytes in this process
  /// on a thread of its own (nice 10, 8 MiB at a time), so this process's
  /// first large puts take no page fault (docs/performance.md, Large puts).
  /// A store that cannot be opened is left alone.
  void PrefaultInBackground(uint64_t limit);
  /// Bytes of $POLYRAY_STORE_PREFAULT ("256M", "1G", "0", "off"; default
  /// 256 MiB; a malformed value: 0).
  static uint64_t PrefaultBytesFromEnv();

  /// Uses segment `name` from now on (before the first use).
  void SetName(const std::string& name);
  /// The segment's name.
  std::string name();
  /// The open store (opened on first use; throws polyray::StoreError).
  polyray::Store& Open();
  /// Creates, writes and seals `value` under `oid` (throws StoreFullError...).
  void WriteSealed(const std::string& oid, const internal::Encoded& value);
  /// A pinned view of a sealed object, or nullopt when it is not sealed
  /// within `timeout_ms`.
  std::optional<internal::ValueView> Read(const std::string& oid, int64_t timeout_ms);
  /// A pin of a sealed object (held while the raylet takes its own pin).
  std::shared_ptr<polyray::ObjectView> Pin(const std::string& oid, int64_t timeout_ms);

 private:
  std::mutex mu_;
  std::string name_;
  std::optional<polyray::Store> store_;
  std::atomic<bool> stop_prefault_{false};
  std::thread prefault_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_STORE_IO_H_

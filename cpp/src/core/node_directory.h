// Where each node's raylet is, as the GCS node table says (GetAllNodes):
// the puller asks it where to stream an object from, the BorrowTracker where
// to free the copies an owner has on other nodes (as Python's
// core/node_directory.py).
//
// Invariants: the table is a cache; a lookup that misses (unknown or dead
// node) reloads it from the GCS at most every kMinRefreshMs, so a dead node
// asked about often does not flood the GCS; every GCS call has a deadline
// (kRpcDeadline) and a failed one leaves the cached table in place; the mutex
// is never held across a call; asynchronous callbacks run exactly once.
#ifndef POLYRAY_CORE_NODE_DIRECTORY_H_
#define POLYRAY_CORE_NODE_DIRECTORY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/gcs.pb.h"

namespace polyray::core {

class CoreWorker;

/// Node id -> raylet address and liveness; see the file comment. Thread-safe.
class NodeDirectory {
 public:
  /// Reloads after a miss happen at most this often.
  static constexpr int64_t kMinRefreshMs = 500;
  /// Deadline of one GetAllNodes.
  static constexpr std::chrono::seconds kRpcDeadline{10};

  /// The answer of a lookup: the raylet's address (node_id set), or why not.
  struct Found {
    std::optional<rpc::Address> raylet;
    std::string why;  // set when `raylet` is empty
  };
  using Callback = std::function<void(const Found&)>;

  explicit NodeDirectory(CoreWorker& w) : w_(w) {}

  /// The raylet of alive node `node_id`, asking the GCS (blocking, bounded)
  /// when the cache does not know it alive. Never call it on a gRPC thread.
  Found Lookup(const std::string& node_id);
  /// As Lookup, without blocking: `cb` runs at once from the cache, or on a
  /// gRPC thread once the GCS answered.
  void LookupAsync(const std::string& node_id, Callback cb);
  /// A node whose raylet did not answer: the next miss may ask the GCS at once.
  void Forget(const std::string& node_id);

 private:
  /// The answer from the cache; `miss` tells whether a reload could help.
  Found FromCache(const std::string& node_id, bool* miss);
  /// Whether a reload is due (and marks it started).
  bool StartRefresh();
  void Store(const rpc::GetAllNodesReply& reply);

  CoreWorker& w_;
  std::mutex mu_;
  std::unordered_map<std::string, rpc::NodeInfo> nodes_;  // by node id
  std::chrono::steady_clock::time_point refreshed_{};
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_NODE_DIRECTORY_H_

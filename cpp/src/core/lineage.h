// The lineage an owner keeps: the TaskSpecs that can recompute its stored
// objects (as python/polyray/core/lineage.py and the Java Lineage).
//
// When a normal task completes and one of its returns lives in a node's
// store, the owner keeps the task's spec for as long as any of those returns
// is referenced, so a copy lost with its node can be recomputed by running
// the task again (ObjectRecovery). The task's arguments stay counted as
// submitted while its lineage is kept and are released when it goes.
//
// Memory is bounded: the kept specs (encoded size plus 28 bytes per argument
// and return id) stay under max_bytes (runtime spec [lineage] max_bytes;
// POLYRAY_LINEAGE_MAX_BYTES; Config::lineage_max_bytes). Past it the oldest
// lineage is evicted first; its objects are remembered as evicted until
// freed, so a later loss raises ObjectLostError(REASON_LINEAGE_EVICTED).
//
// Invariants: every argument pin taken by Record is released exactly once
// (by eviction, by the last return's free, or at once when the task already
// had lineage); bytes_used() never exceeds the bound after Record returns.
// Thread-safe; the release callback runs outside the mutex.
#ifndef POLYRAY_CORE_LINEAGE_H_
#define POLYRAY_CORE_LINEAGE_H_

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "polyray/protocol/common.pb.h"

namespace polyray::core {

/// The environment variable that overrides the bound for one process.
inline constexpr const char* kLineageMaxBytesEnv = "POLYRAY_LINEAGE_MAX_BYTES";

/// The bound of this process: the environment's, else `configured` (< 0:
/// none), else the spec's. Throws std::invalid_argument for a bad variable.
int64_t LineageMaxBytes(int64_t configured);

/// Whether an object id names a put (bit 31 of its little-endian index).
bool IsPutId(const std::string& oid);

/// The return ids of a task.
std::vector<std::string> ReturnIds(const rpc::TaskSpec& spec);

/// Task id -> lineage, oldest first, under a byte bound; see the file comment.
class Lineage {
 public:
  using Release = std::function<void(const std::vector<std::string>&)>;

  /// A kept lineage (a copy: entries change under the mutex).
  struct Entry {
    rpc::TaskSpec spec;
    std::vector<std::string> arg_ids;
  };

  Lineage(int64_t max_bytes, Release release_args)
      : max_bytes_(max_bytes), release_args_(std::move(release_args)) {}

  int64_t max_bytes() const { return max_bytes_; }
  /// Keeps `spec` (taking over the pins of `arg_ids`) for `stored_returns`.
  /// A task that already has lineage keeps its first entry's pins: the new
  /// ones are released.
  void Record(const rpc::TaskSpec& spec, const std::vector<std::string>& arg_ids,
              const std::vector<std::string>& stored_returns);
  /// An owned object was freed: the lineage goes once none of its task's
  /// stored returns is left.
  void OnFree(const std::string& oid);
  /// The lineage of the task that returns `oid`, if kept and `oid` is live.
  std::optional<Entry> OfObject(const std::string& oid) const;
  /// Whether `oid`'s lineage was evicted to keep the bound (and it is not freed).
  bool WasEvicted(const std::string& oid) const;
  /// True if no reconstruction of `task_id` is under way (and one now is).
  bool BeginRecovery(const std::string& task_id);
  /// The reconstruction of `task_id` ended; whether one was under way.
  bool EndRecovery(const std::string& task_id);
  bool Recovering(const std::string& task_id) const;
  int64_t bytes_used() const;
  int64_t evictions() const;
  size_t size() const;

 private:
  struct Kept {
    rpc::TaskSpec spec;
    std::vector<std::string> arg_ids;
    int64_t size = 0;
    std::unordered_set<std::string> live;
    std::list<std::string>::iterator order;
  };
  const int64_t max_bytes_;
  Release release_args_;
  mutable std::mutex mu_;
  std::list<std::string> order_;  // task ids, oldest first
  std::unordered_map<std::string, Kept> entries_;
  std::unordered_map<std::string, std::string> by_object_;
  std::unordered_set<std::string> evicted_;
  std::unordered_set<std::string> recovering_;
  int64_t bytes_used_ = 0;
  int64_t evictions_ = 0;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_LINEAGE_H_

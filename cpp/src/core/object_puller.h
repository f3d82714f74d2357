// Copies objects held in another node's store into this node's store (as
// the Java ObjectPuller and python/polyray/core/object_puller.py): a
// ReadObject stream of ~4 MiB chunks (gRPC flow control keeps several in
// flight) from one of the nodes holding a copy, written straight into an
// object created in the local store, then sealed. The copy is not pinned: a
// secondary copy the store may evict under pressure (the owner's primary
// copy stays pinned where it was made); it is pulled again when needed.
// Afterwards the owner records the new location (AddObjectLocation, waited
// for, so the owner knows of the copy before the reader uses it; this
// process's own objects are recorded in its ReferenceCounter), so later
// readers and the final free find it.
//
// Invariants:
//  - Concurrent pulls of one object are merged: within this process one
//    thread pulls and the others wait for its outcome; across the processes
//    of a node the store merges them (whoever creates the object fills it,
//    the others wait until it is sealed, and pull again if it was abandoned).
//  - A pull either leaves the object sealed in the local store or reports
//    why not: ObjectLostError naming each location tried and its failure
//    (OBJECT_STORE_FULL when the local store has no room). An object
//    created here and not sealed is aborted (the builder's destructor).
//  - At most spec::kFanoutMaxPullsInFlightPerNode ReadObject streams of this
//    process are open to one serving node; more pulls wait for a slot (up
//    to kPullDeadline, then that node counts as failed for this pull).
//  - Every wait is bounded: a stream by kPullDeadline, a wait for another
//    writer (thread or process) by kPullDeadline too, telling the owner by
//    kRecordDeadline, node lookups by NodeDirectory::kRpcDeadline.
//  - Blocking: call it from user or task threads, never from a gRPC
//    callback thread or the scheduler.
#ifndef POLYRAY_CORE_OBJECT_PULLER_H_
#define POLYRAY_CORE_OBJECT_PULLER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/keyed_limit.h"
#include "polyray/protocol/common.pb.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {

class CoreWorker;

/// Pulls remote objects into the local store; see the file comment.
class ObjectPuller {
 public:
  /// Bytes per ReadObject chunk (the raylet caps it just under 4 MiB).
  static constexpr uint64_t kChunkSize = 4 * 1024 * 1024 - 64 * 1024;
  /// Deadline of one ReadObject stream (a 2 GiB object at 20 MB/s fits).
  static constexpr std::chrono::seconds kPullDeadline{120};
  /// How long a raylet waits for an object to be sealed before NOT_FOUND.
  static constexpr int64_t kReadWaitMs = 2000;
  /// Deadline of the AddObjectLocation that tells the owner of a new copy.
  static constexpr std::chrono::seconds kRecordDeadline{5};

  /// The outcome of a pull: ok, or an error record's kind and message.
  struct Result {
    bool ok = true;
    rpc::ErrorKind kind = rpc::OBJECT_LOST;
    std::string message;
  };

  explicit ObjectPuller(CoreWorker& w) : w_(w) {}

  /// Makes `oid` sealed in this node's store, copying it from one of
  /// `locations` (node ids, the primary copy's first). `owner`: the owner to
  /// tell of the new copy; null when this process owns the object.
  Result Pull(const std::string& oid, const std::vector<std::string>& locations, const rpc::Address* owner);
  /// Whether `node`'s store still holds `oid` (its raylet sends a first chunk
  /// within 3 s); false for a dead or unknown node. For ObjectRecovery.
  bool Probe(const std::string& oid, const std::string& node);

 private:
  /// One pull of an object in this process; the others wait for it.
  struct Inflight {
    bool done = false;
    Result result;
    std::condition_variable cv;
  };
  /// What one ReadObject stream achieved.
  enum class Outcome { kSealed, kRestart, kNodeFailed, kFatal };

  Result PullOnce(const std::string& oid, const std::vector<std::string>& locations, const rpc::Address* owner);
  /// Streams the object from the raylet at `raylet` into the local store.
  /// kNodeFailed / kFatal set `why`; `not_found` tells the raylet answered NOT_FOUND.
  Outcome Stream(const std::string& oid, const rpc::Address& raylet, std::string* why, bool* not_found,
                 rpc::ErrorKind* kind);
  /// Another process of this node is writing the copy: waits until it is
  /// sealed (kSealed), abandoned (kRestart) or the deadline passed (kFatal).
  Outcome WaitOtherWriter(const std::string& oid, std::string* why);
  /// Tells the owner (or this process's counter) that this node holds a copy.
  void Record(const std::string& oid, const rpc::Address* owner);

  CoreWorker& w_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Inflight>> inflight_;  // guarded by mu_
  /// ReadObject streams open per serving node (spec [fanout] max_pulls_in_flight_per_node).
  KeyedLimit streams_{spec::kFanoutMaxPullsInFlightPerNode};

 public:
  /// The cap on streams per serving node (for tests).
  const KeyedLimit& streams() const { return streams_; }
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_OBJECT_PULLER_H_

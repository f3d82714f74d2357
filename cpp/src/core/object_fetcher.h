// Fetches of borrowed objects from their owners, batched and capped per owner
// (docs/ownership.md, "Fan-out"; as the Python and Java ObjectGetter
// fetchers): ids asked for are queued on their owner's queue; a pump sends
// the queue in GetObjects calls of at most spec::kFanoutMaxIdsPerFetch ids,
// at most spec::kFanoutMaxFetchesInFlightPerOwner calls open per owner. The
// owner answers every ready id at once (or, when none is, the first that
// becomes ready, or nothing after the request's wait): answered ids are
// handed to `answered`, the others go back to the front of the queue and
// out again with any new ones. When every slot of an owner is held by a call
// that only carries ids already found not ready, and new ids are queued, one
// such call is cancelled and its ids go out again with the new ones, so new
// ids never wait behind slow objects for the owner's whole hold. An owner
// that answers UNIMPLEMENTED (no GetObjects) gets `fetch_one` per id; a call
// that fails otherwise fails every id it carried (`failed`).
//
// Invariants: an id is queued or in one call at most once (Fetch of an id
// already being fetched does nothing); at most max_in_flight calls per owner
// and max_ids ids per call; deps are never called under the lock (a fake
// `send` may answer inline). Thread-safe.
#ifndef POLYRAY_CORE_OBJECT_FETCHER_H_
#define POLYRAY_CORE_OBJECT_FETCHER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <grpcpp/support/status.h>

#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/core_worker.pb.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {

/// Batched, capped fetches per owner; see the file comment.
class ObjectFetcher {
 public:
  using Done = std::function<void(const grpc::Status&, rpc::GetObjectsReply&)>;
  struct Deps {
    /// Sends GetObjects(`ids`) to `owner`, sets `*cancel` to a function that
    /// cancels the call, and calls `done` once (any thread, may be inline).
    /// False when nothing was sent (shutting down): the ids are dropped.
    std::function<bool(const rpc::Address& owner, const std::vector<std::string>& ids, std::function<void()>* cancel,
                       Done done)>
        send;
    /// An id's answer from its owner.
    std::function<void(const std::string& oid, const rpc::Address& owner, rpc::GetObjectReply& reply)> answered;
    /// A call that carried the id failed with `status`.
    std::function<void(const std::string& oid, const rpc::Address& owner, const grpc::Status& status)> failed;
    /// The owner has no GetObjects: fetch this id with GetObject.
    std::function<void(const std::string& oid, const rpc::Address& owner)> fetch_one;
    int max_in_flight = spec::kFanoutMaxFetchesInFlightPerOwner;
    int max_ids = spec::kFanoutMaxIdsPerFetch;
  };

  explicit ObjectFetcher(Deps deps) : d_(std::move(deps)) {}

  /// Fetches `oid` from `owner` (queued; nothing if it is being fetched).
  void Fetch(const std::string& oid, const rpc::Address& owner);
  /// Fetches many: all are queued first, then each owner's queue is sent
  /// (one Get of many refs makes full batches, not one call per ref).
  void Fetch(const std::vector<std::pair<std::string, rpc::Address>>& items);
  /// Ids queued or in flight (for tests).
  size_t pending() const;
  /// The most calls ever open to one owner at once, and GetObjects calls sent (for tests).
  int most_in_flight() const;
  int64_t calls_sent() const;

 private:
  struct Call {
    std::vector<std::string> ids;
    std::function<void()> cancel;
    bool cancelled = false;  // by the pump, to make room: its ids are not failed
    bool waiting = false;    // carries only ids already found not ready
  };
  struct Owner {
    rpc::Address address;
    std::deque<std::string> queue;
    std::unordered_set<std::string> not_ready;  // went out and were not answered
    std::vector<std::shared_ptr<Call>> calls;
    bool legacy = false;
  };
  /// What Pump decided, done after the lock is released.
  struct Sends {
    std::vector<std::pair<std::shared_ptr<Call>, rpc::Address>> calls;
    std::vector<std::pair<std::string, rpc::Address>> one_by_one;
    std::vector<std::function<void()>> cancels;
  };

  void PumpLocked(const std::string& key, Owner& o, Sends* out);
  void Run(const std::string& key, Sends sends);
  void OnDone(const std::string& key, const std::shared_ptr<Call>& call, const grpc::Status& status,
              rpc::GetObjectsReply& reply);

  Deps d_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Owner> owners_;     // by owner worker id; guarded by mu_
  std::unordered_set<std::string> fetching_;          // guarded by mu_
  int most_in_flight_ = 0;                            // guarded by mu_
  int64_t calls_sent_ = 0;                            // guarded by mu_
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_OBJECT_FETCHER_H_

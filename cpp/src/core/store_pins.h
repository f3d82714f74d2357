// The raylet's pins of objects this process wrote into the node's store,
// sent in batches (docs/ownership.md, "Pins").
//
// A put writes and seals its object, takes a store pin of its own on it and
// hands it here; the put returns at once. Queued ids go to the raylet in
// PinObjects calls of at most spec::kFanoutMaxIdsPerPin ids (one owner per
// call), at most spec::kFanoutMaxPinsInFlight calls open: ids queued while
// calls are open go out together in the next one. Our own pin is dropped only
// once the raylet answered, so the object cannot be evicted before the
// raylet's pin. A free reaching the raylet before the pin is safe: the store
// hides an object whose delete is pending, the raylet answers false, and our
// release completes the delete.
//
// Invariants: every hold is released exactly once (answer or failure);
// at most max_unpinned objects wait (Add blocks, bounded, beyond that);
// the ids of one call share one owner; no lock is held while a call starts
// or a hold is released.
#ifndef POLYRAY_CORE_STORE_PINS_H_
#define POLYRAY_CORE_STORE_PINS_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "polyray/protocol/common.pb.h"

namespace polyray::core {

class StorePins {
 public:
  /// The raylet's answer: `ok` false when the call failed; `pinned[i]` for ids[i].
  using Done = std::function<void(bool ok, const std::vector<bool>& pinned)>;
  /// Starts one PinObjects call; `done` runs once, on any thread, never inline.
  using PinCall = std::function<void(std::vector<std::string> ids, const rpc::Address& owner, Done done)>;

  explicit StorePins(PinCall pin, size_t max_in_flight, size_t max_ids, size_t max_unpinned = 0);

  /// Queues the raylet's pin of sealed `oid`; `hold` (our pin) is released
  /// once the raylet answered, then `on_done(pinned)` runs if given. Blocks
  /// while max_unpinned objects wait; throws std::runtime_error after `room_wait_ms`.
  void Add(std::string oid, std::shared_ptr<void> hold, const rpc::Address& owner,
           std::function<void(bool)> on_done = nullptr, int64_t room_wait_ms = 60000);
  /// Add and wait for the raylet's answer; whether it pinned the object.
  bool AddAndWait(std::string oid, std::shared_ptr<void> hold, const rpc::Address& owner);
  /// Shutdown: queued objects are released unpinned, later Adds too; waits
  /// up to `wait_ms` for open calls to end (their callbacks use this object).
  void Close(int64_t wait_ms);
  /// Objects queued or in flight.
  size_t waiting();
  /// PinObjects calls started so far.
  size_t calls_sent();

 private:
  struct Pending {
    std::string oid;
    std::shared_ptr<void> hold;
    rpc::Address owner;
    std::function<void(bool)> on_done;
  };
  void Pump();
  void Finish(std::vector<Pending> batch, bool ok, const std::vector<bool>& pinned);

  PinCall pin_;
  const size_t max_in_flight_;
  const size_t max_ids_;
  const size_t max_unpinned_;
  std::mutex mu_;
  std::condition_variable room_;
  std::deque<Pending> queue_;
  size_t in_flight_ = 0;   // calls open
  size_t unpinned_ = 0;    // objects queued or in calls
  size_t calls_sent_ = 0;
  bool closed_ = false;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_STORE_PINS_H_

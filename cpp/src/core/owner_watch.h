// Which owners of borrowed objects this process knows to be dead (issue 14,
// local reads; as Python's core/owner_watch.py; docs/ownership.md, "Local
// reads").
//
// A Get of a borrowed object sealed in this node's store reads the local copy
// without asking the owner, but only while the owner is not known to be dead.
// Deaths become known two ways: a call to the owner failed with UNAVAILABLE
// (MarkDead), and the watch: every owner read from locally (Note) is watched
// for `idle_ms` after its last local read, and while any is, one
// GetDeadWorkers call every `interval_ms` asks the GCS which of them are dead.
// No grace round: a dead process never comes back; a dead owner is
// remembered for the life of this process.
//
// Invariants: at most one round is scheduled or in flight; a GCS that does
// not answer changes nothing (asked again next round); after Stop nothing
// more is scheduled. Thread-safe.
#ifndef POLYRAY_CORE_OWNER_WATCH_H_
#define POLYRAY_CORE_OWNER_WATCH_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/borrower_watch.h"
#include "core/clock.h"

namespace polyray::core {

/// Owners known dead, and the GCS poll that finds them; see the file comment.
class OwnerWatch : public std::enable_shared_from_this<OwnerWatch> {
 public:
  /// An owner not read from locally for this long is no longer watched.
  static constexpr int64_t kIdleMs = 60'000;

  OwnerWatch(Clock& clock, std::shared_ptr<DeadWorkersClient> gcs, int64_t interval_ms, int64_t idle_ms = kIdleMs);
  /// True once this process knows the owner `worker_id` died.
  bool IsDead(const std::string& worker_id) const;
  /// The owner `worker_id` is dead (a call to it found nothing listening).
  void MarkDead(const std::string& worker_id);
  /// `owner`'s object was read locally: watch it for idle_ms more (starts the poll).
  void Note(const rpc::Address& owner);
  /// Stops: nothing more is scheduled or asked.
  void Stop();
  /// GetDeadWorkers calls made (tests).
  int calls() const;
  /// Owners watched now (tests).
  size_t watched() const;

 private:
  void Round();

  Clock& clock_;
  std::shared_ptr<DeadWorkersClient> gcs_;
  int64_t interval_ms_;
  int64_t idle_ms_;
  mutable std::mutex mu_;
  std::set<std::string> dead_;
  std::unordered_map<std::string, std::pair<rpc::Address, Clock::TimePoint>> watched_;  // by worker id
  bool running_ = false;
  bool stopped_ = false;
  int calls_ = 0;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_OWNER_WATCH_H_

// Releases what dead processes borrowed or were lent here (as Python's
// core/borrower_watch.py and Java's BorrowerWatch).
//
// An owner counts other processes' borrows and the lends made to callers
// (ReferenceCounter). A process that dies never sends its removals or
// acknowledgements, so, while the counter has any such holder, this watch
// asks the GCS every spec::kBorrowersDeathWatchMs which of them are dead
// (GetDeadWorkers: one call naming every holder; no per-object calls) and
// calls ReferenceCounter::DropBorrower for each one found dead in two
// consecutive rounds, which frees what only it held (the second round is a
// grace for a live process's "added" still in flight for a ref it got from
// the dead one). It runs only while the counter has holders: the counter
// wakes it (Start) when its first holder appears (docs/ownership.md, "The
// reference protocol", Deaths).
//
// Invariants: at most one round is scheduled or in flight; Start and a round
// that finds no holders are ordered by mu_ (a holder added after a round saw
// none starts the next one); after Stop nothing more is scheduled.
#ifndef POLYRAY_CORE_BORROWER_WATCH_H_
#define POLYRAY_CORE_BORROWER_WATCH_H_

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include <grpcpp/support/status.h>

#include "core/clock.h"
#include "core/reference_counter.h"
#include "polyray/protocol/gcs.pb.h"

namespace polyray::core {

class Channels;

/// GetDeadWorkers of the GCS (an interface so the watch is unit-tested with a fake).
class DeadWorkersClient {
 public:
  using Callback = std::function<void(const grpc::Status&, rpc::GetDeadWorkersReply&)>;
  virtual ~DeadWorkersClient() = default;
  /// Asks with a deadline of `timeout`; `done` runs once, never inline.
  virtual void GetDeadWorkers(rpc::GetDeadWorkersRequest request, std::chrono::milliseconds timeout,
                              Callback done) = 0;
};

/// DeadWorkersClient over this process's gRPC channels.
class GrpcDeadWorkersClient final : public DeadWorkersClient {
 public:
  GrpcDeadWorkersClient(Channels& channels, std::string gcs_address)
      : channels_(channels), gcs_address_(std::move(gcs_address)) {}
  void GetDeadWorkers(rpc::GetDeadWorkersRequest request, std::chrono::milliseconds timeout,
                      Callback done) override;

 private:
  Channels& channels_;
  std::string gcs_address_;
};

/// Watches the counter's holders for deaths; see the file comment. Held by a
/// shared_ptr: its timers and calls keep it alive, and after Stop returns
/// they no longer touch the counter.
class BorrowerWatch : public std::enable_shared_from_this<BorrowerWatch> {
 public:
  BorrowerWatch(ReferenceCounter& references, Clock& clock, std::shared_ptr<DeadWorkersClient> gcs,
                std::string self_id, int64_t interval_ms);
  /// Begins watching unless already watching (any thread).
  void Start();
  /// Stops: nothing more is scheduled or asked.
  void Stop();
  /// GetDeadWorkers calls made (tests).
  int calls() const;

 private:
  void Round();

  ReferenceCounter& references_;
  Clock& clock_;
  std::shared_ptr<DeadWorkersClient> gcs_;
  std::string self_id_;
  int64_t interval_ms_;
  mutable std::mutex mu_;
  bool running_ = false;
  bool stopped_ = false;
  int calls_ = 0;
  std::set<std::string> suspects_;  // found dead in the last round: dropped if dead in the next
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_BORROWER_WATCH_H_

// Lease proofs: a worker runs normal tasks only from the holder of its
// current lease (as python/polyray/protocol/lease_proof.py and Java's
// LeaseProofs; cases in proto/vectors/lease_proof.json).
//
// The raylet gives the worker a key (POLYRAY_LEASE_KEY, hex) and each grant a
// proof, HMAC-SHA256(key, lease_id || holder || seq as 8 bytes big-endian).
// The holder shows it in the first PushTasksRequest of a stream; the worker
// checks it once per stream (constant time) and refuses the stream's normal
// tasks when it is missing or wrong, when a task's caller is not the holder,
// or when a newer lease has been seen since. Actor tasks are not checked.
#ifndef POLYRAY_CORE_LEASE_PROOF_H_
#define POLYRAY_CORE_LEASE_PROOF_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/core_worker.pb.h"

namespace polyray::core {

/// HMAC-SHA256(key, lease_id || holder || seq as 8 bytes big-endian).
std::string SignLease(const std::string& key, const std::string& lease_id, const std::string& holder, uint64_t seq);

/// Whether `lease` was signed with `key` (constant-time comparison).
bool VerifyLease(const std::string& key, const rpc::LeaseProof& lease);

/// What one push stream proved: its lease, or why none.
struct StreamLease {
  std::string holder;
  uint64_t seq = 0;
  std::string missing = "no lease proof was shown";
};

/// A worker's check of pushed normal tasks. Without a key (a driver, or a
/// worker not started by a raylet) nothing is checked.
class LeaseGuard {
 public:
  explicit LeaseGuard(std::optional<std::string> key) : key_(std::move(key)) {}
  /// Keyed by POLYRAY_LEASE_KEY.
  static LeaseGuard FromEnv();
  /// This process's guard.
  static LeaseGuard& Process();

  bool enabled() const { return key_.has_value(); }
  /// Updates `stream` with `request`'s proof, if it carries one.
  void Open(const rpc::PushTasksRequest& request, StreamLease& stream);
  /// Why `spec` is refused on a stream that proved `stream`; empty: it runs.
  std::string Refusal(const StreamLease& stream, const rpc::TaskSpec& spec) const;

 private:
  std::optional<std::string> key_;
  std::atomic<uint64_t> newest_{0};
};

/// The reply to a refused task: LeaseRefused errors naming the reason, lease_refused set.
rpc::TaskResult RefusedTaskResult(const rpc::TaskSpec& spec, const std::string& why, const std::string& worker);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_LEASE_PROOF_H_

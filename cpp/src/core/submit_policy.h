// The runtime spec's policies (proto/runtime/runtime_spec.toml), as pure
// functions of their inputs. Every CoreWorker (Python, Java, C++) must make
// the same decisions; proto/vectors/policy.json lists inputs with the
// decision each must give, and tests/core_runtime_spec_test.cc checks these
// functions against every case.
//
// Invariants: no state, no clock, no locks; the constants come only from the
// generated polyray/runtime_spec.h, never from a literal here.
#ifndef POLYRAY_CORE_SUBMIT_POLICY_H_
#define POLYRAY_CORE_SUBMIT_POLICY_H_

#include <cstdint>
#include <string>

#include "polyray/protocol/common.pb.h"

namespace polyray::core::policy {

/// How many tasks one lease may have in flight ("inflight_limit"): many when
/// its tasks are short (average under kPipeliningFastTaskUs) and the queue is
/// long (more than kPipeliningQueueFactor tasks a lease), else one. A short
/// queue keeps one task a worker, so tasks that wait on each other never sit
/// behind one another on one worker.
int64_t InflightLimit(double avg_task_us, int64_t queued, int64_t leases);

/// A lease's new average task time after a task took `took_us`
/// ("task_time_average"). An average at or above kPipeliningUnknownAvgUs is
/// unknown and the first result replaces it; after that the new result has
/// weight kPipeliningNewWeightRatio.
double NextTaskTimeAverage(double avg_us, double took_us);

/// How many lease requests to start for a scheduling class
/// ("lease_requests"): one per queued task, at most kLeaseMaxPendingRequests
/// in flight, counting the `requesting` ones already sent.
int64_t LeaseRequestsToStart(int64_t queued, int64_t requesting);

/// Whether a task that failed on attempt `attempt` (0 first) may run again
/// ("can_retry"): a negative `max_retries` retries forever.
bool CanRetry(int64_t attempt, int64_t max_retries);

/// What becomes of an actor call ("actor_call").
enum class ActorCallDecision { kRetry, kFail, kWait };

/// What becomes of an actor call when its actor's stream breaks or the actor
/// is not ALIVE ("actor_call"): a DEAD actor fails every call; a call not yet
/// sent waits (no retry spent); a call in flight is retried (attempt + 1)
/// while CanRetry(attempt, max_task_retries), else fails. `actor_state` is the
/// GCS's state name ("ALIVE", "RESTARTING", "DEAD", ...).
ActorCallDecision ActorCall(bool in_flight, const std::string& actor_state, int64_t max_task_retries,
                            int64_t attempt);

/// Whether a value of `size` encoded bytes travels inside messages
/// ("travels_inline") rather than through the node's store.
bool TravelsInline(uint64_t size);

/// What a lease reply's failure does to its scheduling class's queue
/// ("lease_failure"; the names in the vectors are these in lower case).
enum class LeaseFailureAction { kRetryTask, kFailTask, kFailClass };

/// A worker that died before registering (WORKER_CRASHED) costs only the task
/// at the head of the class's queue an attempt (kRetryTask), or fails only it
/// once its retries are spent (kFailTask); any other failure (a launcher that
/// cannot start anything) fails every queued task of the class (kFailClass).
LeaseFailureAction LeaseFailure(polyray::rpc::ErrorKind kind, int64_t attempt, int64_t max_retries);

}  // namespace polyray::core::policy

#endif  // POLYRAY_CORE_SUBMIT_POLICY_H_

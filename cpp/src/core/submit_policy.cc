// The policies of submit_policy.h, written from the spec's wording.
#include "core/submit_policy.h"

#include <algorithm>

#include "polyray/runtime_spec.h"

namespace polyray::core::policy {

int64_t InflightLimit(double avg_task_us, int64_t queued, int64_t leases) {
  bool fast = avg_task_us < static_cast<double>(spec::kPipeliningFastTaskUs);
  bool long_queue = queued > spec::kPipeliningQueueFactor * leases;
  return fast && long_queue ? spec::kPipeliningMaxInflightFast : 1;
}

double NextTaskTimeAverage(double avg_us, double took_us) {
  if (avg_us >= static_cast<double>(spec::kPipeliningUnknownAvgUs)) return took_us;
  const double w = spec::kPipeliningNewWeightRatio;
  return (1.0 - w) * avg_us + w * took_us;
}

int64_t LeaseRequestsToStart(int64_t queued, int64_t requesting) {
  return std::max<int64_t>(0, std::min<int64_t>(queued, spec::kLeaseMaxPendingRequests) - requesting);
}

bool CanRetry(int64_t attempt, int64_t max_retries) { return max_retries < 0 || attempt < max_retries; }

ActorCallDecision ActorCall(bool in_flight, const std::string& actor_state, int64_t max_task_retries,
                            int64_t attempt) {
  if (actor_state == "DEAD") return ActorCallDecision::kFail;
  if (!in_flight) return ActorCallDecision::kWait;
  return CanRetry(attempt, max_task_retries) ? ActorCallDecision::kRetry : ActorCallDecision::kFail;
}

bool TravelsInline(uint64_t size) { return size <= static_cast<uint64_t>(spec::kInlineMaxBytes); }

LeaseFailureAction LeaseFailure(polyray::rpc::ErrorKind kind, int64_t attempt, int64_t max_retries) {
  if (kind != polyray::rpc::WORKER_CRASHED) return LeaseFailureAction::kFailClass;
  return CanRetry(attempt, max_retries) ? LeaseFailureAction::kRetryTask : LeaseFailureAction::kFailTask;
}

}  // namespace polyray::core::policy

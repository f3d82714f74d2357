// OwnerWatch of owner_watch.h.
#include "core/owner_watch.h"

#include <chrono>
#include <vector>

namespace polyray::core {

OwnerWatch::OwnerWatch(Clock& clock, std::shared_ptr<DeadWorkersClient> gcs, int64_t interval_ms, int64_t idle_ms)
    : clock_(clock), gcs_(std::move(gcs)), interval_ms_(interval_ms), idle_ms_(idle_ms) {}

bool OwnerWatch::IsDead(const std::string& worker_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return dead_.count(worker_id) > 0;
}

void OwnerWatch::MarkDead(const std::string& worker_id) {
  std::lock_guard<std::mutex> lock(mu_);
  dead_.insert(worker_id);
  watched_.erase(worker_id);
}

void OwnerWatch::Note(const rpc::Address& owner) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dead_.count(owner.worker_id())) return;
    watched_[owner.worker_id()] = {owner, clock_.Now()};
    if (running_ || stopped_) return;
    running_ = true;
  }
  clock_.RunAfter(interval_ms_, [self = shared_from_this()] { self->Round(); });
}

void OwnerWatch::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
}

int OwnerWatch::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

size_t OwnerWatch::watched() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watched_.size();
}

void OwnerWatch::Round() {
  rpc::GetDeadWorkersRequest request;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = clock_.Now();
    for (auto it = watched_.begin(); it != watched_.end();) {
      bool idle = now - it->second.second >= std::chrono::milliseconds(idle_ms_);
      it = idle ? watched_.erase(it) : std::next(it);
    }
    if (stopped_ || watched_.empty()) {
      running_ = false;  // Note starts it again
      return;
    }
    for (const auto& [id, w] : watched_) *request.add_workers() = w.first;
    calls_++;
  }
  gcs_->GetDeadWorkers(std::move(request), std::chrono::milliseconds(5000),
                       [self = shared_from_this()](const grpc::Status& st, rpc::GetDeadWorkersReply& reply) {
                         std::lock_guard<std::mutex> lock(self->mu_);
                         if (self->stopped_) {
                           self->running_ = false;
                           return;
                         }
                         if (st.ok()) {  // a failed call is asked again next round
                           for (const std::string& id : reply.dead_worker_ids()) {
                             self->dead_.insert(id);
                             self->watched_.erase(id);
                           }
                         }
                         self->clock_.RunAfter(self->interval_ms_, [self] { self->Round(); });
                       });
}

}  // namespace polyray::core

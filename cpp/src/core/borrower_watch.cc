// BorrowerWatch and GrpcDeadWorkersClient of borrower_watch.h.
#include "core/borrower_watch.h"

#include <vector>

#include "core/channels.h"
#include "core/rpc_call.h"
#include "polyray/protocol/gcs.grpc.pb.h"

namespace polyray::core {

void GrpcDeadWorkersClient::GetDeadWorkers(rpc::GetDeadWorkersRequest request, std::chrono::milliseconds timeout,
                                           Callback done) {
  // The stub lives until the call ends (the callback owns it).
  auto stub = std::shared_ptr<rpc::GcsService::Stub>(rpc::GcsService::NewStub(channels_.Get(gcs_address_)));
  CallAsync<rpc::GetDeadWorkersReply>(
      [stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->GetDeadWorkers(ctx, rq, rp, std::move(cb)); },
      std::move(request), timeout,
      std::function<void(const grpc::Status&, rpc::GetDeadWorkersReply&)>(
          [stub, done = std::move(done)](const grpc::Status& st, rpc::GetDeadWorkersReply& reply) {
            done(st, reply);
          }));
}

BorrowerWatch::BorrowerWatch(ReferenceCounter& references, Clock& clock, std::shared_ptr<DeadWorkersClient> gcs,
                             std::string self_id, int64_t interval_ms)
    : references_(references),
      clock_(clock),
      gcs_(std::move(gcs)),
      self_id_(std::move(self_id)),
      interval_ms_(interval_ms) {}

void BorrowerWatch::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_ || stopped_) return;
    running_ = true;
  }
  clock_.RunAfter(interval_ms_, [self = shared_from_this()] { self->Round(); });
}

void BorrowerWatch::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
}

int BorrowerWatch::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

void BorrowerWatch::Round() {
  rpc::GetDeadWorkersRequest request;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) {
      running_ = false;
      return;
    }
    std::vector<rpc::Address> holders = references_.Holders();
    if (holders.empty()) {
      running_ = false;  // the counter starts the watch again with its next holder
      return;
    }
    for (auto& a : holders) {
      if (a.worker_id() != self_id_) *request.add_workers() = std::move(a);
    }
    if (request.workers_size() == 0) {
      // Only this process holds: nothing to ask.
      clock_.RunAfter(interval_ms_, [self = shared_from_this()] { self->Round(); });
      return;
    }
    calls_++;
  }
  gcs_->GetDeadWorkers(std::move(request), std::chrono::milliseconds(5000),
                       [self = shared_from_this()](const grpc::Status& st, rpc::GetDeadWorkersReply& reply) {
                         std::lock_guard<std::mutex> lock(self->mu_);
                         if (self->stopped_) {
                           self->running_ = false;
                           return;
                         }
                         // A failed call (the GCS away, or older) is asked again next round.
                         if (st.ok()) {
                           std::set<std::string> suspects;
                           for (const auto& id : reply.dead_worker_ids()) {
                             if (self->suspects_.count(id)) {
                               self->references_.DropBorrower(id);
                             } else {
                               suspects.insert(id);
                             }
                           }
                           self->suspects_ = std::move(suspects);
                         }
                         self->clock_.RunAfter(self->interval_ms_, [self] { self->Round(); });
                       });
}

}  // namespace polyray::core

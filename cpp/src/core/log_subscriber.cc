// LogSubscriber of log_subscriber.h.
#include "core/log_subscriber.h"

#include <chrono>
#include <cstdio>

#include <grpcpp/grpcpp.h>

#include "core/scheduler.h"
#include "polyray/protocol/gcs.grpc.pb.h"

namespace polyray::core {

/// One SubscribeLogs call; deletes itself in OnDone.
class LogSubscriber::Reader : public grpc::ClientReadReactor<rpc::LogBatch> {
 public:
  Reader(LogSubscriber& owner, const std::shared_ptr<grpc::Channel>& gcs, const std::string& job_id)
      : owner_(owner), stub_(rpc::GcsService::NewStub(gcs)) {
    request_.set_job_id(job_id);
    stub_->async()->SubscribeLogs(&ctx_, &request_, this);
    StartRead(&batch_);
    StartCall();
  }

  void Cancel() { ctx_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    std::FILE* out = batch_.is_error() ? stderr : stdout;
    std::string label = batch_.worker_label().empty() ? "pid=" + std::to_string(batch_.pid()) : batch_.worker_label();
    std::string text;
    for (const auto& line : batch_.lines()) text += "(" + label + ") " + line + "\n";
    std::fwrite(text.data(), 1, text.size(), out);
    std::fflush(out);
    StartRead(&batch_);
  }

  void OnDone(const grpc::Status& /*status*/) override {
    LogSubscriber& owner = owner_;
    delete this;
    owner.Ended();
  }

 private:
  LogSubscriber& owner_;
  std::unique_ptr<rpc::GcsService::Stub> stub_;
  grpc::ClientContext ctx_;
  rpc::SubscribeLogsRequest request_;
  rpc::LogBatch batch_;
};

void LogSubscriber::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_ || reader_) return;
  reader_ = new Reader(*this, gcs_, job_id_);
}

void LogSubscriber::Ended() {
  bool again;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reader_ = nullptr;
    again = !stopped_;
    cv_.notify_all();
  }
  if (again) scheduler_.RunAfter(500, [this] { Start(); });
}

void LogSubscriber::Stop() {
  std::unique_lock<std::mutex> lock(mu_);
  stopped_ = true;
  if (reader_) reader_->Cancel();
  cv_.wait_for(lock, std::chrono::seconds(2), [this] { return reader_ == nullptr; });
}

}  // namespace polyray::core

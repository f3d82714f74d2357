// LogSubscriber of log_subscriber.h.
#include "core/log_subscriber.h"

#include <chrono>
#include <cstdio>
#include <random>

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

  void OnReadInitialMetadataDone(bool ok) override {
    if (ok) owner_.Subscribed();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!batch_.drain_token().empty()) {
      owner_.MarkerSeen(batch_.drain_token());
      StartRead(&batch_);
      return;
    }
    std::FILE* out = batch_.is_error() ? stderr : stdout;
    std::string label = batch_.worker_label().empty() ? "pid=" + std::to_string(batch_.pid()) : batch_.worker_label();
    if (batch_.dropped_lines() > 0) {
      std::fprintf(stderr, "[polyray] %llu line(s) of (%s) were dropped (the raylet's buffer was full)\n",
                   static_cast<unsigned long long>(batch_.dropped_lines()), label.c_str());
    }
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
    subscribed_ = false;
    again = !stopped_;
    cv_.notify_all();
  }
  if (again) scheduler_.RunAfter(500, [this] { Start(); });
}

void LogSubscriber::Subscribed() {
  std::lock_guard<std::mutex> lock(mu_);
  subscribed_ = true;
  cv_.notify_all();
}

void LogSubscriber::MarkerSeen(const std::string& token) {
  std::lock_guard<std::mutex> lock(mu_);
  markers_.insert(token);
  cv_.notify_all();
}

bool LogSubscriber::Drain(int64_t timeout_ms) {
  auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::random_device rd;
  std::string token = std::to_string(rd()) + "-" + std::to_string(rd());
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_until(lock, deadline, [this] { return subscribed_ || stopped_; }) || stopped_) return false;
  }
  auto stub = rpc::GcsService::NewStub(gcs_);
  rpc::DrainLogsRequest req;
  req.set_job_id(job_id_);
  req.set_token(token);
  req.set_timeout_ms(static_cast<uint32_t>(timeout_ms));
  rpc::DrainLogsReply reply;
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline + std::chrono::seconds(1));
  if (!stub->DrainLogs(&ctx, req, &reply).ok()) return false;
  std::unique_lock<std::mutex> lock(mu_);
  bool seen = cv_.wait_until(lock, deadline, [&] { return markers_.count(token) > 0; });
  markers_.erase(token);
  return seen;
}

void LogSubscriber::Stop() {
  std::unique_lock<std::mutex> lock(mu_);
  stopped_ = true;
  if (reader_) reader_->Cancel();
  cv_.wait_for(lock, std::chrono::seconds(2), [this] { return reader_ == nullptr; });
}

}  // namespace polyray::core

// PushStream of push_stream.h.
//
// The reactor holds a hold (AddHold) from StartCall until no write-side op
// (StartWrite, StartWritesDone) can be started any more: after WritesDone,
// or once the stream broke. `starting_` counts ops decided under the mutex
// and started after it is released, so the hold outlives them.
#include "core/push_stream.h"

#include <grpcpp/channel.h>

namespace polyray::core {

std::shared_ptr<PushStream> PushStream::Open(const std::shared_ptr<grpc::Channel>& channel, ReplyCallback on_reply,
                                             DoneCallback on_done) {
  std::shared_ptr<PushStream> s(new PushStream(std::move(on_reply), std::move(on_done)));
  s->self_ = s;
  s->stub_ = rpc::CoreWorkerService::NewStub(channel);
  s->stub_->async()->PushTasks(&s->ctx_, s.get());
  s->AddHold();
  s->StartRead(&s->reply_);
  s->StartCall();
  return s;
}

bool PushStream::TakeBatch() {
  if (writing_ || broken_ || writes_done_ || queued_.empty()) return false;
  request_.Clear();
  AttachLease(request_);
  request_.mutable_tasks()->Reserve(static_cast<int>(queued_.size()));
  for (auto& spec : queued_) *request_.add_tasks() = std::move(spec);
  queued_.clear();
  writing_ = true;
  return true;
}

bool PushStream::ReleaseHoldLocked() {
  if (hold_released_ || starting_ > 0 || !(broken_ || writes_done_)) return false;
  hold_released_ = true;
  return true;
}

void PushStream::FinishStarting() {
  bool release;
  {
    std::lock_guard<std::mutex> lock(mu_);
    starting_--;
    release = ReleaseHoldLocked();
  }
  if (release) RemoveHold();
}

void PushStream::Send(std::vector<rpc::TaskSpec> specs) {
  bool start;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_ || broken_) return;  // the owner fails what is in flight
    for (auto& s : specs) queued_.push_back(std::move(s));
    start = TakeBatch();
    if (start) starting_++;
  }
  if (start) {
    StartWrite(&request_);
    FinishStarting();
  }
}

void PushStream::Close() {
  bool done_writing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    done_writing = !writing_ && !broken_ && !writes_done_ && queued_.empty();
    if (done_writing) {
      writes_done_ = true;
      starting_++;
    }
  }
  if (done_writing) {
    StartWritesDone();
    FinishStarting();
  }
}

void PushStream::Cancel() { ctx_.TryCancel(); }

void PushStream::OnWriteDone(bool ok) {
  bool start = false;
  bool done_writing = false;
  bool release = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      broken_ = true;
      queued_.clear();
      release = ReleaseHoldLocked();
    } else {
      start = TakeBatch();
      if (!start && closing_ && !writes_done_ && !broken_) {
        writes_done_ = true;
        done_writing = true;
      }
      if (start || done_writing) starting_++;
    }
  }
  if (release) RemoveHold();
  if (start) {
    StartWrite(&request_);
    FinishStarting();
  } else if (done_writing) {
    StartWritesDone();
    FinishStarting();
  }
}

void PushStream::OnReadDone(bool ok) {
  if (ok) {
    on_reply_(reply_);
    StartRead(&reply_);
    return;
  }
  bool release;
  {
    std::lock_guard<std::mutex> lock(mu_);
    broken_ = true;
    queued_.clear();
    release = ReleaseHoldLocked();
  }
  if (release) RemoveHold();
}

void PushStream::OnWritesDoneDone(bool /*ok*/) {}

void PushStream::OnDone(const grpc::Status& status) {
  std::shared_ptr<PushStream> keep = std::move(self_);  // destroyed when this returns
  on_done_(status);
}

}  // namespace polyray::core

// TaskEvents of task_events.h.
#include "core/task_events.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <utility>

#include "polyray/runtime_spec.h"

namespace polyray::core {

int64_t TaskEvents::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TaskEvents::TaskEvents(Clock& clock, Sender send, SyncSender send_sync, std::function<std::string()> node_id,
                       std::string worker_id, size_t max_buffered, size_t max_per_batch, int64_t interval_ms)
    : clock_(clock),
      send_(std::move(send)),
      send_sync_(std::move(send_sync)),
      node_id_(std::move(node_id)),
      worker_id_(std::move(worker_id)),
      pid_(static_cast<int32_t>(getpid())),
      max_buffered_(max_buffered),
      max_per_batch_(max_per_batch),
      interval_ms_(interval_ms) {}

bool TaskEvents::Enabled() {
  const char* v = std::getenv("POLYRAY_TASK_EVENTS");
  return v == nullptr || std::string(v) != "0";
}

rpc::TaskEvent* TaskEvents::AppendLocked(rpc::TaskEventState state, const rpc::TaskSpec& spec) {
  if (events_.size() >= max_buffered_) {
    dropped_[spec.job_id()]++;
    return nullptr;
  }
  rpc::TaskEvent& e = events_.emplace_back();
  e.set_task_id(spec.task_id());
  e.set_job_id(spec.job_id());
  e.set_attempt(spec.attempt());
  e.set_state(state);
  e.set_language(spec.language());
  e.set_type(spec.type());
  e.set_name(spec.name());
  e.set_actor_id(spec.actor_id());
  e.set_parent_task_id(spec.parent_task_id());
  e.set_timestamp_ns(NowNs());
  // The owner's times the spec carries (0: not known): a Python owner writes them there and
  // reports no event of a task that runs, so the worker's event gives the whole row.
  e.set_submitted_ns(spec.submitted_ns());
  e.set_pending_args_ns(spec.pending_args_ns());
  e.set_pending_node_ns(spec.pending_node_ns());
  return &e;
}

rpc::TaskEvent* TaskEvents::FoldableLocked(Token token) {
  if (token < first_token_ || token - first_token_ >= events_.size()) return nullptr;
  rpc::TaskEvent& e = events_[token - first_token_];
  return e.prior_state() == rpc::TASK_STATE_UNKNOWN ? &e : nullptr;
}

void TaskEvents::Record(rpc::TaskEventState state, const rpc::TaskSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  AppendLocked(state, spec);
}

void TaskEvents::Queued(const rpc::TaskSpec& spec, int64_t submitted_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (rpc::TaskEvent* e = AppendLocked(rpc::PENDING_NODE, spec)) {
    e->set_prior_state(rpc::SUBMITTED);
    e->set_prior_timestamp_ns(submitted_ns);
  }
}

TaskEvents::Token TaskEvents::Running(const rpc::TaskSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  return AppendLocked(rpc::RUNNING, spec) != nullptr ? first_token_ + events_.size() - 1 : 0;
}

void TaskEvents::Failed(const rpc::TaskSpec& spec, const rpc::ErrorRecord& record) {
  std::string message = record.message().empty() ? record.type_name()
                        : record.type_name().empty() ? record.message()
                                                     : record.type_name() + ": " + record.message();
  size_t max_chars = static_cast<size_t>(spec::kLimitsMaxNameBytes / 4);
  if (message.size() > max_chars) message.resize(max_chars);
  std::lock_guard<std::mutex> lock(mu_);
  if (rpc::TaskEvent* e = AppendLocked(rpc::FAILED, spec)) {
    e->set_error_kind(record.kind());
    e->set_error_message(std::move(message));
  }
}

void TaskEvents::Ended(const rpc::TaskSpec& spec, const rpc::TaskResult& result, Token running) {
  rpc::TaskEventState state = rpc::FINISHED;
  rpc::ErrorRecord record;
  if (result.returns_size() > 0) {
    const rpc::ReturnObject& r = result.returns(0);
    if (r.has_value() && r.value().format() == rpc::FORMAT_ERROR) {
      if (!record.ParseFromString(r.value().body())) record.set_kind(rpc::RUNTIME_ERROR);
      state = rpc::FAILED;
    }
  }
  if (running != 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (rpc::TaskEvent* e = FoldableLocked(running)) {
      e->set_prior_state(e->state());
      e->set_prior_timestamp_ns(e->timestamp_ns());
      e->set_state(state);
      e->set_timestamp_ns(NowNs());
      if (state == rpc::FAILED) {
        std::string message = record.message().empty() ? record.type_name()
                              : record.type_name().empty() ? record.message()
                                                           : record.type_name() + ": " + record.message();
        size_t max_chars = static_cast<size_t>(spec::kLimitsMaxNameBytes / 4);
        if (message.size() > max_chars) message.resize(max_chars);
        e->set_error_kind(record.kind());
        e->set_error_message(std::move(message));
      }
      return;
    }
  }
  if (state == rpc::FAILED) {
    Failed(spec, record);
  } else {
    Record(rpc::FINISHED, spec);
  }
}

void TaskEvents::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ || stopped_) return;
    started_ = true;
  }
  clock_.RunAfter(interval_ms_, [self = shared_from_this()] { self->Tick(); });
}

void TaskEvents::Tick() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
  }
  Flush();
  clock_.RunAfter(interval_ms_, [self = shared_from_this()] { self->Tick(); });
}

rpc::AddTaskEventsRequest TaskEvents::TakeBatchLocked() {
  rpc::AddTaskEventsRequest req;
  size_t n = std::min(events_.size(), max_per_batch_);
  std::string node = node_id_();
  for (size_t i = 0; i < n; ++i) {
    rpc::TaskEvent* e = req.add_events();
    *e = std::move(events_[i]);
    e->set_node_id(node);
    e->set_worker_id(worker_id_);
    e->set_worker_pid(pid_);
  }
  events_.erase(events_.begin(), events_.begin() + static_cast<std::ptrdiff_t>(n));
  first_token_ += n;
  for (auto& [job, count] : dropped_) {
    if (count <= 0) continue;
    auto* d = req.add_dropped();
    d->set_job_id(job);
    d->set_count(count);
  }
  dropped_.clear();
  return req;
}

void TaskEvents::Requeue(const rpc::AddTaskEventsRequest& req) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& e : req.events()) dropped_[e.job_id()]++;
  for (const auto& d : req.dropped()) dropped_[d.job_id()] += d.count();
}

void TaskEvents::Flush() {
  rpc::AddTaskEventsRequest req;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_flight_ || (events_.empty() && dropped_.empty())) return;
    in_flight_ = true;
    req = TakeBatchLocked();
  }
  int n = req.events_size();
  auto copy = std::make_shared<rpc::AddTaskEventsRequest>(req);
  send_(std::move(req), [self = shared_from_this(), copy, n](bool ok) {
    bool more = false;
    if (!ok) self->Requeue(*copy);
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->in_flight_ = false;
      if (ok) {
        self->sent_ += n;
        more = !self->events_.empty() && static_cast<size_t>(n) == self->max_per_batch_;
      }
    }
    self->idle_.notify_all();
    if (more) self->Flush();
  });
}

void TaskEvents::Stop() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    // A send in flight (the timer's) is waited for, at most kStopWaitMs: the process may
    // leave right after Stop, and a batch it failed is counted as dropped and sent below.
    idle_.wait_for(lock, std::chrono::milliseconds(kStopWaitMs), [this] { return !in_flight_; });
  }
  for (int round = 0; round < 100; ++round) {
    rpc::AddTaskEventsRequest req;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (events_.empty() && dropped_.empty()) return;
      req = TakeBatchLocked();
    }
    if (!send_sync_(req)) return;
    std::lock_guard<std::mutex> lock(mu_);
    sent_ += req.events_size();
  }
}

size_t TaskEvents::buffered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_.size();
}

int64_t TaskEvents::sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_;
}

std::map<std::string, int64_t> TaskEvents::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

}  // namespace polyray::core

// TaskEvents of task_events.h.
#include "core/task_events.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
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

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "PackedTaskEvents records are little-endian");

std::string MessageOf(const rpc::ErrorRecord& record) {
  std::string message = record.message().empty() ? record.type_name()
                        : record.type_name().empty() ? record.message()
                                                     : record.type_name() + ": " + record.message();
  size_t max_chars = static_cast<size_t>(spec::kLimitsMaxNameBytes / 4);
  if (message.size() > max_chars) message.resize(max_chars);
  return message;
}

void PutKey(std::string& key, const std::string& field) {
  uint32_t n = static_cast<uint32_t>(field.size());
  key.append(reinterpret_cast<const char*>(&n), sizeof n);
  key.append(field);
}

// Byte offsets in a full record (gcs.proto PackedTaskEvents).
constexpr size_t kHeadAt = 24, kAttemptAt = 28, kStateAt = 32, kPriorAt = 33, kTimeAt = 36, kPriorTimeAt = 44,
                 kSubmittedAt = 52, kPendingArgsAt = 60, kPendingNodeAt = 68;

template <typename T>
void Put(char* at, T v) {
  std::memcpy(at, &v, sizeof v);
}

template <typename T>
T Get(const char* at) {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

}  // namespace

int32_t TaskEvents::HeadLocked(const rpc::TaskSpec& spec) {
  if (last_head_ >= 0) {
    const Head& h = heads_[static_cast<size_t>(last_head_)];
    if (h.language == spec.language() && h.type == spec.type() && h.name == spec.name() &&
        h.job_id == spec.job_id() && h.actor_id == spec.actor_id() && h.parent_task_id == spec.parent_task_id()) {
      return last_head_;
    }
  }
  key_.clear();
  PutKey(key_, spec.job_id());
  PutKey(key_, spec.name());
  PutKey(key_, spec.actor_id());
  PutKey(key_, spec.parent_task_id());
  int32_t lang = spec.language(), type = spec.type();
  key_.append(reinterpret_cast<const char*>(&lang), sizeof lang);
  key_.append(reinterpret_cast<const char*>(&type), sizeof type);
  auto it = head_index_.find(key_);
  if (it != head_index_.end()) return last_head_ = static_cast<int32_t>(it->second);
  if (heads_.size() >= kMaxHeads) return -1;
  heads_.push_back(Head{spec.job_id(), spec.name(), spec.actor_id(), spec.parent_task_id(), spec.language(),
                        spec.type()});
  head_index_.emplace(key_, static_cast<uint32_t>(heads_.size() - 1));
  return last_head_ = static_cast<int32_t>(heads_.size() - 1);
}

void TaskEvents::PackLocked(const std::string& task_id, uint32_t head, int32_t attempt, rpc::TaskEventState state,
                            int64_t ts, int64_t submitted_ns, int64_t pending_args_ns, int64_t pending_node_ns) {
  char rec[kRecordSize];
  std::memcpy(rec, task_id.data(), 24);
  Put<uint32_t>(rec + kHeadAt, head);
  Put<int32_t>(rec + kAttemptAt, attempt);
  rec[kStateAt] = static_cast<char>(state);
  rec[kPriorAt] = rec[kPriorAt + 1] = rec[kPriorAt + 2] = 0;
  Put<int64_t>(rec + kTimeAt, ts);
  Put<int64_t>(rec + kPriorTimeAt, 0);
  Put<int64_t>(rec + kSubmittedAt, submitted_ns);
  Put<int64_t>(rec + kPendingArgsAt, pending_args_ns);
  Put<int64_t>(rec + kPendingNodeAt, pending_node_ns);
  records_.append(rec, kRecordSize);
}

TaskEvents::Token TaskEvents::AppendLocked(rpc::TaskEventState state, const rpc::TaskSpec& spec, int64_t ts) {
  if (BufferedLocked() >= max_buffered_) {
    dropped_[spec.job_id()]++;
    return 0;
  }
  if (state != rpc::FAILED && spec.task_id().size() == 24 && spec.attempt() >= 0 && ts >= 0) {
    int32_t head = HeadLocked(spec);
    if (head >= 0) {
      PackLocked(spec.task_id(), static_cast<uint32_t>(head), spec.attempt(), state, ts, spec.submitted_ns(),
                 spec.pending_args_ns(), spec.pending_node_ns());
      return first_token_ + records_.size() / kRecordSize - 1;
    }
  }
  rpc::TaskEvent& e = singles_.emplace_back();
  e.set_task_id(spec.task_id());
  e.set_job_id(spec.job_id());
  e.set_attempt(spec.attempt());
  e.set_state(state);
  e.set_language(spec.language());
  e.set_type(spec.type());
  e.set_name(spec.name());
  e.set_actor_id(spec.actor_id());
  e.set_parent_task_id(spec.parent_task_id());
  e.set_timestamp_ns(ts);
  // The owner's times the spec carries (0: not known), so the worker's event gives the whole row.
  e.set_submitted_ns(spec.submitted_ns());
  e.set_pending_args_ns(spec.pending_args_ns());
  e.set_pending_node_ns(spec.pending_node_ns());
  return 0;
}

void TaskEvents::Record(rpc::TaskEventState state, const rpc::TaskSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  AppendLocked(state, spec, NowNs());
}

void TaskEvents::OwnerQueued(rpc::TaskSpec& spec, int64_t submitted_ns) {
  int64_t now = NowNs();
  spec.set_submitted_ns(submitted_ns);
  spec.set_pending_node_ns(now);
  std::lock_guard<std::mutex> lock(mu_);
  int32_t head = spec.task_id().size() == 24 && spec.attempt() >= 0 ? HeadLocked(spec) : -1;
  if (head < 0) {  // no record can name it: its owner's event now (PENDING_NODE, times as fields)
    AppendLocked(rpc::PENDING_NODE, spec, now);
    return;
  }
  pending_[spec.task_id()] = Pending{static_cast<uint32_t>(head), spec.attempt(), submitted_ns, now, false};
}

void TaskEvents::Queued(const rpc::TaskSpec& spec, int64_t submitted_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t singles = singles_.size();
  Token token = AppendLocked(rpc::PENDING_NODE, spec, NowNs());
  if (token != 0) {
    char* rec = &records_[(token - first_token_) * kRecordSize];
    rec[kPriorAt] = static_cast<char>(rpc::SUBMITTED);
    Put<int64_t>(rec + kPriorTimeAt, submitted_ns);
  } else if (singles_.size() > singles) {
    singles_.back().set_prior_state(rpc::SUBMITTED);
    singles_.back().set_prior_timestamp_ns(submitted_ns);
  }
}

void TaskEvents::OwnerDone(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_.empty()) pending_.erase(task_id);
}

size_t TaskEvents::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

void TaskEvents::TakePendingLocked(bool all) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = it->second;
    if (!all && !p.seen) {  // queued since the last flush: reported at the next if still waiting
      p.seen = true;
      ++it;
      continue;
    }
    if (BufferedLocked() >= max_buffered_) {
      dropped_[heads_[p.head].job_id]++;
    } else {
      PackLocked(it->first, p.head, p.attempt, rpc::PENDING_NODE, p.pending_node_ns, p.submitted_ns, 0,
                 p.pending_node_ns);
    }
    it = pending_.erase(it);
  }
}

TaskEvents::Token TaskEvents::Running(const rpc::TaskSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  return AppendLocked(rpc::RUNNING, spec, NowNs());
}

void TaskEvents::Failed(const rpc::TaskSpec& spec, const rpc::ErrorRecord& record) {
  std::string message = MessageOf(record);
  std::lock_guard<std::mutex> lock(mu_);
  size_t before = singles_.size();
  AppendLocked(rpc::FAILED, spec, NowNs());
  if (singles_.size() > before) {
    singles_.back().set_error_kind(record.kind());
    singles_.back().set_error_message(std::move(message));
  }
}

void TaskEvents::Ended(const rpc::TaskSpec& spec, const rpc::TaskResult& result, Token running) {
  if (result.returns_size() > 0) {
    const rpc::ReturnObject& r = result.returns(0);
    if (r.has_value() && r.value().format() == rpc::FORMAT_ERROR) {
      // FAILED carries an error: a TaskEvent of its own (the RUNNING record stays as it is).
      rpc::ErrorRecord record;
      if (!record.ParseFromString(r.value().body())) record.set_kind(rpc::RUNTIME_ERROR);
      Failed(spec, record);
      return;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (running >= first_token_ && running - first_token_ < records_.size() / kRecordSize) {
    char* rec = &records_[(running - first_token_) * kRecordSize];
    if (rec[kPriorAt] == 0) {  // RUNNING alone: FINISHED folds into it
      rec[kPriorAt] = rec[kStateAt];
      Put<int64_t>(rec + kPriorTimeAt, Get<int64_t>(rec + kTimeAt));
      rec[kStateAt] = static_cast<char>(rpc::FINISHED);
      Put<int64_t>(rec + kTimeAt, NowNs());
      return;
    }
  }
  AppendLocked(rpc::FINISHED, spec, NowNs());
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
    TakePendingLocked(false);
  }
  Flush();
  clock_.RunAfter(interval_ms_, [self = shared_from_this()] { self->Tick(); });
}

rpc::AddTaskEventsRequest TaskEvents::TakeBatchLocked() {
  rpc::AddTaskEventsRequest req;
  std::string node = node_id_();
  size_t n_singles = std::min(singles_.size(), max_per_batch_);
  for (size_t i = 0; i < n_singles; ++i) {
    rpc::TaskEvent* e = req.add_events();
    *e = std::move(singles_[i]);
    e->set_node_id(node);
    e->set_worker_id(worker_id_);
    e->set_worker_pid(pid_);
  }
  singles_.erase(singles_.begin(), singles_.begin() + static_cast<std::ptrdiff_t>(n_singles));
  size_t n = std::min(records_.size() / kRecordSize, max_per_batch_ - n_singles);
  if (n > 0) {
    // The records as they are, each head index turned into the index of its head in this batch.
    rpc::PackedTaskEvents* packed = req.mutable_packed();
    std::string* blob = packed->mutable_full_records();
    blob->assign(records_, 0, n * kRecordSize);
    std::vector<int32_t> in_batch(heads_.size(), -1);
    for (size_t i = 0; i < n; ++i) {
      char* rec = &(*blob)[i * kRecordSize];
      uint32_t index = Get<uint32_t>(rec + kHeadAt);
      int32_t& mapped = in_batch[index];
      if (mapped < 0) {
        const Head& h = heads_[index];
        rpc::TaskEvent* head = packed->add_heads();
        head->set_job_id(h.job_id);
        head->set_language(h.language);
        head->set_type(h.type);
        head->set_name(h.name);
        head->set_actor_id(h.actor_id);
        head->set_parent_task_id(h.parent_task_id);
        head->set_node_id(node);
        head->set_worker_id(worker_id_);
        head->set_worker_pid(pid_);
        mapped = packed->heads_size() - 1;
      }
      Put<uint32_t>(rec + kHeadAt, static_cast<uint32_t>(mapped));
    }
    records_.erase(0, n * kRecordSize);
    first_token_ += n;
  }
  if (heads_.size() >= kMaxHeads) CompactHeadsLocked();
  for (auto& [job, count] : dropped_) {
    if (count <= 0) continue;
    auto* d = req.add_dropped();
    d->set_job_id(job);
    d->set_count(count);
  }
  dropped_.clear();
  return req;
}

void TaskEvents::CompactHeadsLocked() {
  std::vector<int32_t> kept(heads_.size(), -1);
  std::vector<Head> heads;
  auto keep = [&](uint32_t index) {
    if (kept[index] < 0) {
      kept[index] = static_cast<int32_t>(heads.size());
      heads.push_back(heads_[index]);
    }
    return static_cast<uint32_t>(kept[index]);
  };
  for (size_t at = 0; at < records_.size(); at += kRecordSize) {
    char* rec = &records_[at];
    Put<uint32_t>(rec + kHeadAt, keep(Get<uint32_t>(rec + kHeadAt)));
  }
  for (auto& [_, p] : pending_) p.head = keep(p.head);
  heads_ = std::move(heads);
  head_index_.clear();
  for (size_t i = 0; i < heads_.size(); ++i) {
    const Head& h = heads_[i];
    key_.clear();
    PutKey(key_, h.job_id);
    PutKey(key_, h.name);
    PutKey(key_, h.actor_id);
    PutKey(key_, h.parent_task_id);
    int32_t lang = h.language, type = h.type;
    key_.append(reinterpret_cast<const char*>(&lang), sizeof lang);
    key_.append(reinterpret_cast<const char*>(&type), sizeof type);
    head_index_.emplace(key_, static_cast<uint32_t>(i));
  }
  last_head_ = -1;
}

int TaskEvents::Count(const rpc::AddTaskEventsRequest& req) {
  return req.events_size() + static_cast<int>(req.packed().full_records().size() / kRecordSize);
}

void TaskEvents::Requeue(const rpc::AddTaskEventsRequest& req) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& e : req.events()) dropped_[e.job_id()]++;
  const std::string& blob = req.packed().full_records();
  for (size_t at = 0; at + kRecordSize <= blob.size(); at += kRecordSize) {
    dropped_[req.packed().heads(static_cast<int>(Get<uint32_t>(blob.data() + at + kHeadAt))).job_id()]++;
  }
  for (const auto& d : req.dropped()) dropped_[d.job_id()] += d.count();
}

void TaskEvents::Flush() {
  rpc::AddTaskEventsRequest req;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_flight_ || (BufferedLocked() == 0 && dropped_.empty())) return;
    in_flight_ = true;
    req = TakeBatchLocked();
  }
  int n = Count(req);
  auto copy = std::make_shared<rpc::AddTaskEventsRequest>(req);
  send_(std::move(req), [self = shared_from_this(), copy, n](bool ok) {
    bool more = false;
    if (!ok) self->Requeue(*copy);
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->in_flight_ = false;
      if (ok) {
        self->sent_ += n;
        more = self->BufferedLocked() > 0 && static_cast<size_t>(n) == self->max_per_batch_;
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
    TakePendingLocked(true);  // the process leaves: every task still waiting shows PENDING_NODE
  }
  for (int round = 0; round < 100; ++round) {
    rpc::AddTaskEventsRequest req;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (BufferedLocked() == 0 && dropped_.empty()) return;
      req = TakeBatchLocked();
    }
    if (!send_sync_(req)) return;
    std::lock_guard<std::mutex> lock(mu_);
    sent_ += Count(req);
  }
}

size_t TaskEvents::buffered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return BufferedLocked();
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

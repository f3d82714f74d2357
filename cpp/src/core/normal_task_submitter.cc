// NormalTaskSubmitter of normal_task_submitter.h.
#include "core/normal_task_submitter.h"

#include <algorithm>
#include <chrono>
#include <map>

#include <grpcpp/support/status.h>

#include "core/common.h"
#include "core/ids.h"
#include "core/lease_client.h"
#include "core/node_watch_client.h"
#include "core/submit_policy.h"
#include "core/task_finisher.h"
#include "core/task_stream.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {
namespace {

bool CanRetry(const rpc::TaskSpec& spec) { return policy::CanRetry(spec.attempt(), spec.max_retries()); }

/// Microseconds from `from` to `to`.
double MicrosBetween(Clock::TimePoint from, Clock::TimePoint to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

/// The task as the raylet needs it: no argument values, a request id of its own.
rpc::TaskSpec LeaseView(const rpc::TaskSpec& spec) {
  rpc::TaskSpec view;
  view.set_type(spec.type());
  view.set_language(spec.language());
  *view.mutable_function() = spec.function();
  view.set_job_id(spec.job_id());
  view.set_task_id(RandomBytes(kTaskIdSize - kJobIdSize) + spec.task_id().substr(kTaskIdSize - kJobIdSize));
  view.set_parent_task_id(spec.parent_task_id());
  *view.mutable_caller() = spec.caller();
  view.set_num_returns(spec.num_returns());
  *view.mutable_resources() = spec.resources();
  *view.mutable_scheduling() = spec.scheduling();
  view.set_name(spec.name());
  *view.mutable_code_search_path() = spec.code_search_path();
  view.set_runtime_env(spec.runtime_env());  // the raylet prepares it before the worker starts
  view.set_caller_language(spec.caller_language());
  return view;
}

}  // namespace

void NormalTaskSubmitter::Run(Actions& actions) {
  for (auto& a : actions) a();
  actions.clear();
}

std::string NormalTaskSubmitter::KeyOf(const rpc::TaskSpec& spec) {
  std::string key = std::to_string(spec.language()) + "|";
  std::map<std::string, double> sorted(spec.resources().begin(), spec.resources().end());
  for (const auto& [name, amount] : sorted) key += name + "=" + std::to_string(amount) + ",";
  key += "|" + internal::SerializeDeterministic(spec.scheduling()) + "|";
  for (const auto& p : spec.code_search_path()) key += p + ":";
  key += "|" + spec.runtime_env();
  return key;
}

void NormalTaskSubmitter::Submit(PendingTaskPtr task) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) {
      task->key = KeyOf(task->spec);
      classes_[task->key].queue.push_back(task);
      Dispatch(task->key, actions);
    } else {
      actions.push_back([this, task] {
        d_.finisher.FailTask(task->spec, SystemError(rpc::WORKER_CRASHED, "the polyray runtime is shutting down"),
                             task->arg_ids);
      });
    }
  }
  Run(actions);
}

void NormalTaskSubmitter::Dispatch(const std::string& key, Actions& actions) {
  SchedulingClass& sc = classes_[key];
  const auto leases = static_cast<int64_t>(sc.leases.size());
  for (const LeasePtr& lease : sc.leases) {
    if (sc.queue.empty()) break;
    if (lease->dead) continue;
    // Each lease's limit is decided with the queue as it is when its turn
    // comes, as the Python submitter does.
    const auto limit = static_cast<size_t>(
        policy::InflightLimit(lease->avg_task_us, static_cast<int64_t>(sc.queue.size()), leases));
    std::vector<PendingTaskPtr> batch;
    while (!sc.queue.empty() && lease->inflight.size() + batch.size() < limit) {
      batch.push_back(sc.queue.front());
      sc.queue.pop_front();
    }
    if (!batch.empty()) Push(lease, std::move(batch), actions);
  }
  if (!closed_) {
    int64_t more = policy::LeaseRequestsToStart(static_cast<int64_t>(sc.queue.size()), sc.requesting);
    for (; more > 0; --more) {
      sc.requesting++;
      RequestLease(key, sc.queue.front()->spec, actions);
    }
  }
  for (const LeasePtr& lease : sc.leases) MaybeLinger(lease, actions);
}

void NormalTaskSubmitter::Push(const LeasePtr& lease, std::vector<PendingTaskPtr> batch, Actions& actions) {
  lease->lingering = false;
  lease->linger_gen++;
  Clock::TimePoint now = d_.clock.Now();
  std::vector<rpc::TaskSpec> specs;
  specs.reserve(batch.size());
  for (auto& t : batch) {
    t->pushed_at = now;
    lease->inflight[t->spec.task_id()] = t;
    lease->order.push_back(t->spec.task_id());
    specs.push_back(t->spec);
  }
  actions.push_back([stream = lease->stream, specs = std::move(specs)]() mutable { stream->Send(std::move(specs)); });
}

void NormalTaskSubmitter::RequestLease(const std::string& key, const rpc::TaskSpec& spec, Actions& actions) {
  rpc::RequestWorkerLeaseRequest req;
  *req.mutable_task() = LeaseView(spec);
  actions.push_back([this, key, req = std::move(req), id = spec.task_id(), attempt = spec.attempt()]() mutable {
    RequestLeaseAt(key, std::move(req), d_.local_raylet, id, attempt);
  });
}

void NormalTaskSubmitter::RequestLeaseAt(const std::string& key, rpc::RequestWorkerLeaseRequest req,
                                         const std::string& raylet, const std::string& for_task, int32_t attempt) {
  auto sent = std::make_shared<rpc::RequestWorkerLeaseRequest>(std::move(req));
  d_.leases.RequestLease(raylet, *sent,
                         [this, key, sent, raylet, for_task, attempt](const grpc::Status& st,
                                                                      rpc::RequestWorkerLeaseReply& reply) {
                           OnLeaseReply(key, st, reply, *sent, raylet, for_task, attempt);
                         });
}

void NormalTaskSubmitter::OnLeaseReply(const std::string& key, const grpc::Status& status,
                                       rpc::RequestWorkerLeaseReply& reply, const rpc::RequestWorkerLeaseRequest& req,
                                       const std::string& raylet, const std::string& for_task, int32_t attempt) {
  bool closed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed = closed_ || ShuttingDown();
  }
  if (status.ok() && reply.lease_id().empty() && !reply.has_failure() && !reply.canceled() && reply.has_retry_at() &&
      reply.retry_at().port() != 0 && !req.grant_or_reject() && !closed) {
    // Spill-over: that node's raylet grants or rejects (never spills again).
    rpc::RequestWorkerLeaseRequest again = req;
    again.set_grant_or_reject(true);
    RequestLeaseAt(key, std::move(again), Target(reply.retry_at()), for_task, attempt);
    return;
  }
  Actions actions;
  LeasePtr unwanted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    SchedulingClass& sc = classes_[key];
    sc.requesting--;
    if (closed_ || ShuttingDown()) {
      if (status.ok() && !reply.lease_id().empty()) {
        unwanted = std::make_shared<Lease>();
        unwanted->lease_id = reply.lease_id();
        unwanted->worker_id = reply.worker_address().worker_id();
        unwanted->raylet = raylet;
      }
    } else if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
        Dispatch(key, actions);  // the node is busy: ask again while tasks wait
      } else if (req.grant_or_reject() && status.error_code() == grpc::StatusCode::UNAVAILABLE) {
        // The node we were spilled to is gone: ask the local raylet again (its
        // view drops the node once the GCS declares it dead).
        actions.push_back([this, key] {
          d_.clock.RunAfter(spec::kLeaseSpillRetryMs, [this, key] {
            Actions later;
            {
              std::lock_guard<std::mutex> relock(mu_);
              if (!closed_) Dispatch(key, later);
            }
            Run(later);
          });
        });
      } else {
        FailQueue(key,
                  SystemError(rpc::WORKER_CRASHED, "the raylet at " + raylet + " did not grant a worker lease: " +
                                                       status.error_message()),
                  actions);
      }
    } else if (reply.has_failure() && (!reply.failure().message().empty() || !reply.failure().type_name().empty())) {
      OnLeaseFailure(key, reply.failure(), for_task, attempt, actions);
    } else if (reply.canceled() || reply.lease_id().empty()) {
      Dispatch(key, actions);
    } else {
      auto lease = std::make_shared<Lease>();
      lease->lease_id = reply.lease_id();
      lease->worker_id = reply.worker_address().worker_id();
      lease->address = reply.worker_address();
      lease->key = key;
      lease->raylet = raylet;
      if (reply.has_proof()) lease->proof = reply.proof();
      if (sc.queue.empty()) {
        unwanted = lease;
      } else {
        sc.leases.push_back(lease);
        OpenStream(lease);
        if (IsRemote(*lease)) MaybeWatchNodes(actions);
        Dispatch(key, actions);
      }
    }
  }
  if (unwanted) ReturnLease(unwanted, false);
  Run(actions);
}

void NormalTaskSubmitter::OpenStream(const LeasePtr& lease) {
  // Opening only queues the call: no callback runs before this returns.
  std::weak_ptr<Lease> weak = lease;
  lease->stream = d_.streams.Open(
      lease->address,
      [this, weak](rpc::PushTasksReply& reply) {
        if (LeasePtr l = weak.lock()) OnReply(l, reply);
      },
      [this, weak](const grpc::Status& status) {
        // A lease nobody lists any more has nothing in flight: nothing to fail.
        if (LeasePtr l = weak.lock()) OnStreamClosed(l, status);
      });
  if (lease->proof) lease->stream->ShowLease(*lease->proof);
}

void NormalTaskSubmitter::OnReply(const LeasePtr& lease, rpc::PushTasksReply& reply) {
  Actions actions;
  {
    std::lock_guard<std::mutex> lock(mu_);
    SchedulingClass& sc = classes_[lease->key];
    Clock::TimePoint now = d_.clock.Now();
    for (rpc::TaskResult& result : *reply.mutable_results()) {
      auto it = lease->inflight.find(result.task_id());
      if (it == lease->inflight.end()) continue;
      if (result.generator_item() > 0) {  // an item of a generator task still running (in order)
        auto r = std::make_shared<rpc::TaskResult>(std::move(result));
        actions.push_back([this, t = it->second, r] { d_.finisher.GeneratorItem(t->spec, *r); });
        continue;
      }
      bool pipelined = lease->inflight.size() > 1;
      PendingTaskPtr t = std::move(it->second);
      lease->inflight.erase(it);
      for (auto o = lease->order.begin(); o != lease->order.end(); ++o) {
        if (*o == result.task_id()) {
          lease->order.erase(o);
          break;
        }
      }
      // With several in flight, a task's own time is the gap since the
      // previous result; otherwise push to result (as the Python submitter).
      Clock::TimePoint from = pipelined ? std::max(lease->last_result, t->pushed_at) : t->pushed_at;
      lease->last_result = now;
      lease->avg_task_us = policy::NextTaskTimeAverage(lease->avg_task_us, MicrosBetween(from, now));
      if (result.lease_refused()) {
        // The worker refused this caller's lease (missing, wrong or stale:
        // docs/fault-tolerance.md, "Bad input"): drop the lease, returned once
        // its stream is idle, and retry the task on a new one, charged as a
        // retry; with none left it fails with the refusal (LeaseRefused).
        lease->dead = true;
        lease->refused = true;
        if (CanRetry(t->spec) && !t->cancelled) {
          t->spec.set_attempt(t->spec.attempt() + 1);
          d_.finisher.Retried(t->spec);
          sc.queue.push_front(t);
          continue;
        }
      } else if (result.is_application_error() && t->spec.retry_exceptions() && CanRetry(t->spec) &&
                 !t->cancelled) {
        t->spec.set_attempt(t->spec.attempt() + 1);
        d_.finisher.Retried(t->spec);
        sc.queue.push_front(t);
        continue;
      }
      if (result.worker_exiting()) lease->dead = true;
      Forget(t->spec.task_id());
      auto r = std::make_shared<rpc::TaskResult>(std::move(result));
      actions.push_back([this, t, r] { d_.finisher.CompleteTask(t->spec, *r, t->arg_ids); });
    }
    if (lease->refused && lease->inflight.empty()) {
      bool listed = false;
      for (const auto& l : sc.leases) listed = listed || l == lease;
      if (listed) {
        RemoveLease(sc, lease);
        actions.push_back([this, lease] {
          lease->stream->Close();
          ReturnLease(lease, false);
        });
      }
    }
    Dispatch(lease->key, actions);
  }
  Run(actions);
}

void NormalTaskSubmitter::OnStreamClosed(const LeasePtr& lease, const grpc::Status& status) {
  Actions actions;
  bool return_it = false;
  std::vector<PendingTaskPtr> lost;  // no retries left, the node may be dead: probe its raylet
  std::string detail = status.ok() ? std::string("stream closed") : status.error_message();
  {
    std::lock_guard<std::mutex> lock(mu_);
    SchedulingClass& sc = classes_[lease->key];
    bool listed = false;
    for (const auto& l : sc.leases) listed = listed || l == lease;
    if (lease->dead && lease->inflight.empty() && !listed) return;  // retired on purpose
    lease->dead = true;
    RemoveLease(sc, lease);
    const bool retrying = !closed_ && !ShuttingDown();
    // In push order: the worker runs its tasks one after another and answers
    // each at once, so only the oldest in flight was running when it died.
    std::vector<PendingTaskPtr> pending;
    for (const std::string& id : lease->order) {
      auto it = lease->inflight.find(id);
      if (it != lease->inflight.end()) pending.push_back(it->second);
    }
    lease->inflight.clear();
    lease->order.clear();
    std::vector<PendingTaskPtr> spare;
    for (size_t i = 1; retrying && i < pending.size(); ++i) {
      if (pending[i]->cancelled) continue;
      int& n = spared_[pending[i]->spec.task_id()];
      if (n < kSpareLimit) {
        n++;
        spare.push_back(pending[i]);
        pending[i] = nullptr;
      }
    }
    for (auto it = spare.rbegin(); it != spare.rend(); ++it) sc.queue.push_front(*it);
    std::string node_hex = Hex(lease->address.node_id());
    std::vector<PendingTaskPtr> retried;
    for (auto& t : pending) {
      if (!t) continue;
      HoldArgsAfterDeath(t, actions);
      if (t->cancelled) {  // a forced cancel ends its worker: not retried
        Forget(t->spec.task_id());
        actions.push_back([this, t = t] {
          d_.finisher.FailTask(t->spec, SystemError(rpc::TASK_CANCELLED, "task " + t->spec.name() + " was cancelled"),
                               t->arg_ids);
        });
        continue;
      }
      if (CanRetry(t->spec) && retrying) {
        t->spec.set_attempt(t->spec.attempt() + 1);
        d_.finisher.Retried(t->spec);
        retried.push_back(t);
        continue;
      }
      rpc::ErrorRecord record;
      if (lease->node_dead) {
        record = SystemError(rpc::NODE_DIED, "the node " + node_hex + " running task " + t->spec.name() +
                                                 " died (the GCS declared it dead: " + lease->node_died +
                                                 ") after " + std::to_string(t->spec.attempt() + 1) + " attempt(s)");
      } else if (d_.nodes && IsRemote(*lease) && retrying) {
        lost.push_back(t);
        continue;
      } else {
        record = SystemError(rpc::WORKER_CRASHED, "the worker running task " + t->spec.name() + " (worker " +
                                                      ShortHex(lease->worker_id) + ") died after " +
                                                      std::to_string(t->spec.attempt() + 1) +
                                                      " attempt(s): " + detail);
      }
      Forget(t->spec.task_id());
      actions.push_back([this, t = t, record] { d_.finisher.FailTask(t->spec, record, t->arg_ids); });
    }
    // Ahead of the spared ones, in push order.
    for (auto it = retried.rbegin(); it != retried.rend(); ++it) sc.queue.push_front(*it);
    for (const auto& t : lost) Forget(t->spec.task_id());
    return_it = true;
    if (!closed_) Dispatch(lease->key, actions);
  }
  if (return_it) ReturnLease(lease, true);
  if (!lost.empty()) {
    // Fail them with NODE_DIED when the worker's raylet does not answer either, else WORKER_CRASHED.
    std::string raylet = lease->raylet.empty() ? d_.local_raylet : lease->raylet;
    d_.nodes->ProbeRaylet(
        raylet, std::chrono::milliseconds(spec::kLeaseNodeProbeMs),
        [this, lease, lost, detail, raylet](bool answered) {
          for (const auto& t : lost) {
            std::string attempts = std::to_string(t->spec.attempt() + 1) + " attempt(s): " + detail;
            rpc::ErrorRecord record =
                answered ? SystemError(rpc::WORKER_CRASHED, "the worker running task " + t->spec.name() +
                                                                " (worker " + ShortHex(lease->worker_id) +
                                                                ") died after " + attempts)
                         : SystemError(rpc::NODE_DIED, "the node " + Hex(lease->address.node_id()) +
                                                           " running task " + t->spec.name() +
                                                           " died (its raylet at " + raylet +
                                                           " does not answer) after " + attempts);
            d_.finisher.FailTask(t->spec, record, t->arg_ids);
          }
        });
  }
  Run(actions);
}

// The executor died running `t`: keep its arguments TaskFinisher::kArgsGraceMs
// past the failure or retry, for the "added" of a process it handed one to.
void NormalTaskSubmitter::HoldArgsAfterDeath(const PendingTaskPtr& t, Actions& actions) {
  if (t->arg_ids.empty()) return;
  actions.push_back([this, ids = t->arg_ids] {
    d_.finisher.HoldArgs(ids);
    d_.clock.RunAfter(TaskFinisher::kArgsGraceMs, [this, ids] { d_.finisher.ReleaseArgs(ids); });
  });
}

bool NormalTaskSubmitter::IsRemote(const Lease& lease) const {
  return !lease.address.node_id().empty() && lease.address.node_id() != d_.local_node;
}

std::vector<NormalTaskSubmitter::LeasePtr> NormalTaskSubmitter::RemoteLeases() {
  std::vector<LeasePtr> out;
  for (auto& [key, sc] : classes_) {
    for (const LeasePtr& l : sc.leases) {
      if (!l->dead && IsRemote(*l)) out.push_back(l);
    }
  }
  return out;
}

void NormalTaskSubmitter::MaybeWatchNodes(Actions& actions) {
  if (!d_.nodes || watching_ || closed_) return;
  watching_ = true;
  actions.push_back([this] { d_.clock.RunAfter(spec::kLeaseNodeWatchMs, [this] { WatchNodes(); }); });
}

void NormalTaskSubmitter::WatchNodes() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || ShuttingDown() || RemoteLeases().empty()) {
      watching_ = false;
      return;
    }
  }
  const int64_t deadline_ms = std::max(spec::kLeaseNodeWatchMs, spec::kLeaseNodeProbeMs);
  d_.nodes->GetAllNodes(std::chrono::milliseconds(deadline_ms),
                        [this](const grpc::Status& st, rpc::GetAllNodesReply& reply) {
                          // The GCS away for a moment: ask again next time.
                          if (st.ok()) OnNodeTable(reply);
                          d_.clock.RunAfter(spec::kLeaseNodeWatchMs, [this] { WatchNodes(); });
                        });
}

void NormalTaskSubmitter::OnNodeTable(const rpc::GetAllNodesReply& reply) {
  std::vector<LeasePtr> ended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::unordered_map<std::string, std::string> dead;
    for (const rpc::NodeInfo& n : reply.nodes()) {
      if (!n.alive()) dead[n.node_id()] = n.death_reason().empty() ? "declared dead by the GCS" : n.death_reason();
    }
    for (const LeasePtr& l : RemoteLeases()) {
      auto it = dead.find(l->address.node_id());
      if (it == dead.end()) continue;
      l->node_dead = true;
      l->node_died = it->second;
      ended.push_back(l);
    }
  }
  for (const LeasePtr& l : ended) {
    l->stream->Close();
    OnStreamClosed(l, grpc::Status(grpc::StatusCode::UNAVAILABLE, "its node was declared dead: " + l->node_died));
  }
}

void NormalTaskSubmitter::OnLeaseFailure(const std::string& key, const rpc::ErrorRecord& failure,
                                         const std::string& for_task, int32_t attempt, Actions& actions) {
  SchedulingClass& sc = classes_[key];
  if (failure.kind() != rpc::WORKER_CRASHED) {  // policy: fail_class whatever the task
    FailQueue(key, failure, actions);
    return;
  }
  // Only the task the request was made for, while it still waits at the attempt it had then.
  auto pos = sc.queue.end();
  for (auto it = sc.queue.begin(); it != sc.queue.end(); ++it) {
    if ((*it)->spec.task_id() == for_task) {
      if ((*it)->spec.attempt() == attempt) pos = it;
      break;
    }
  }
  if (pos == sc.queue.end()) {
    Dispatch(key, actions);  // nobody to charge: just ask again
    return;
  }
  PendingTaskPtr t = *pos;
  switch (policy::LeaseFailure(failure.kind(), t->spec.attempt(), t->spec.max_retries())) {
    case policy::LeaseFailureAction::kFailClass:
      FailQueue(key, failure, actions);
      return;
    case policy::LeaseFailureAction::kRetryTask:
      if (!closed_ && !ShuttingDown()) {
        t->spec.set_attempt(t->spec.attempt() + 1);
        d_.finisher.Retried(t->spec);
        break;
      }
      [[fallthrough]];
    case policy::LeaseFailureAction::kFailTask: {
      sc.queue.erase(pos);
      Forget(t->spec.task_id());
      rpc::ErrorRecord record = failure;
      record.set_message("the worker for task " + t->spec.name() + " died before it registered, after " +
                         std::to_string(t->spec.attempt() + 1) + " attempt(s): " + failure.message());
      actions.push_back([this, t, record] { d_.finisher.FailTask(t->spec, record, t->arg_ids); });
      break;
    }
  }
  Dispatch(key, actions);
}

void NormalTaskSubmitter::FailQueue(const std::string& key, const rpc::ErrorRecord& record, Actions& actions) {
  SchedulingClass& sc = classes_[key];
  while (!sc.queue.empty()) {
    PendingTaskPtr t = sc.queue.front();
    sc.queue.pop_front();
    Forget(t->spec.task_id());
    actions.push_back([this, t, record] { d_.finisher.FailTask(t->spec, record, t->arg_ids); });
  }
}

void NormalTaskSubmitter::MaybeLinger(const LeasePtr& lease, Actions& actions) {
  if (lease->dead || !lease->inflight.empty() || lease->lingering || !classes_[lease->key].queue.empty()) return;
  lease->lingering = true;
  uint64_t gen = ++lease->linger_gen;
  actions.push_back([this, lease, gen] {
    d_.clock.RunAfter(spec::kLeaseLingerMs, [this, lease, gen] { Expire(lease, gen); });
  });
}

void NormalTaskSubmitter::Expire(const LeasePtr& lease, uint64_t gen) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (gen != lease->linger_gen || lease->dead || !lease->inflight.empty() || !classes_[lease->key].queue.empty()) {
      return;
    }
    lease->dead = true;
    lease->lingering = false;
    RemoveLease(classes_[lease->key], lease);
  }
  lease->stream->Close();
  ReturnLease(lease, false);
}

void NormalTaskSubmitter::ReturnLease(const LeasePtr& lease, bool disconnect) {
  rpc::ReturnWorkerRequest req;
  req.set_lease_id(lease->lease_id);
  req.set_worker_id(lease->worker_id);
  req.set_disconnect(disconnect);
  d_.leases.ReturnLease(lease->raylet.empty() ? d_.local_raylet : lease->raylet, req);
}

void NormalTaskSubmitter::RemoveLease(SchedulingClass& sc, const LeasePtr& lease) {
  for (auto it = sc.leases.begin(); it != sc.leases.end(); ++it) {
    if (*it == lease) {
      sc.leases.erase(it);
      return;
    }
  }
}

NormalTaskSubmitter::CancelFound NormalTaskSubmitter::Cancel(const std::string& task_id, rpc::Address* worker) {
  PendingTaskPtr dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, sc] : classes_) {
      for (const LeasePtr& lease : sc.leases) {
        auto it = lease->inflight.find(task_id);
        if (it == lease->inflight.end()) continue;
        it->second->cancelled = true;
        if (worker) *worker = lease->address;
        return CancelFound::kRunning;
      }
      for (auto it = sc.queue.begin(); it != sc.queue.end(); ++it) {
        if ((*it)->spec.task_id() != task_id) continue;
        dropped = *it;
        sc.queue.erase(it);
        Forget(task_id);
        break;
      }
      if (dropped) break;
    }
  }
  if (!dropped) return CancelFound::kUnknown;
  d_.finisher.FailTask(dropped->spec,
                       SystemError(rpc::TASK_CANCELLED, "task " + dropped->spec.name() + " was cancelled before it ran"),
                       dropped->arg_ids);
  return CancelFound::kDropped;
}

std::vector<std::string> NormalTaskSubmitter::ChildrenOf(const std::string& parent_task_id) {
  std::vector<std::string> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, sc] : classes_) {
    for (const PendingTaskPtr& t : sc.queue) {
      if (t->spec.parent_task_id() == parent_task_id) out.push_back(t->spec.task_id());
    }
    for (const LeasePtr& lease : sc.leases) {
      for (const auto& [id, t] : lease->inflight) {
        if (t->spec.parent_task_id() == parent_task_id) out.push_back(id);
      }
    }
  }
  return out;
}

void NormalTaskSubmitter::Close() {
  std::vector<LeasePtr> leases;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (auto& [key, sc] : classes_) {
      for (auto& l : sc.leases) {
        l->dead = true;
        leases.push_back(l);
      }
      sc.leases.clear();
    }
  }
  for (const LeasePtr& lease : leases) {
    lease->stream->Close();
    rpc::ReturnWorkerRequest req;
    req.set_lease_id(lease->lease_id);
    req.set_worker_id(lease->worker_id);
    d_.leases.ReturnLeaseNow(lease->raylet.empty() ? d_.local_raylet : lease->raylet, req);
  }
}

}  // namespace polyray::core

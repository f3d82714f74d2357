// Fakes of what the submitters meet (src/core/clock.h, lease_client.h,
// actor_info_client.h, task_stream.h, task_finisher.h), for unit tests that
// run a submitter in process: no network, no threads, time moves only when
// the test says. Every fake records what it was asked and lets the test
// answer when it chooses, so a test drives each decision step by step.
//
// Invariants: no fake calls back inline from a call the submitter makes
// (the real ones never do: the submitters may hold their mutex then);
// answers run on the test's thread; ManualClock runs due timers in due-time
// order, each with Now() at its due time.
#ifndef POLYRAY_TESTS_CORE_SUBMITTER_FAKES_H_
#define POLYRAY_TESTS_CORE_SUBMITTER_FAKES_H_

#include <algorithm>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/support/status.h>

#include "core/actor_info_client.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/lease_client.h"
#include "core/node_watch_client.h"
#include "core/pending_task.h"
#include "core/task_finisher.h"
#include "core/task_stream.h"

namespace polyray::core::fakes {

/// A clock that moves only in Advance.
class ManualClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void RunAfter(int64_t delay_ms, std::function<void()> fn) override {
    due_.emplace(now_ + std::chrono::milliseconds(delay_ms < 0 ? 0 : delay_ms), std::move(fn));
  }
  /// Moves time forward by `d`, running every timer that falls due on the
  /// way (timers they add run too when due in the same span).
  void Advance(std::chrono::microseconds d) {
    const TimePoint until = now_ + d;
    while (!due_.empty() && due_.begin()->first <= until) {
      auto first = due_.begin();
      now_ = first->first;
      std::function<void()> fn = std::move(first->second);
      due_.erase(first);
      fn();
    }
    now_ = until;
  }
  void AdvanceMs(int64_t ms) { Advance(std::chrono::milliseconds(ms)); }
  size_t timers() const { return due_.size(); }

 private:
  TimePoint now_{std::chrono::hours(1)};
  std::multimap<TimePoint, std::function<void()>> due_;
};

/// One stream to a fake worker: what was sent, and a way to answer.
class FakeStream final : public TaskStream {
 public:
  FakeStream(rpc::Address worker, ReplyCallback on_reply, DoneCallback on_done)
      : worker(std::move(worker)), on_reply_(std::move(on_reply)), on_done_(std::move(on_done)) {}

  void Send(std::vector<rpc::TaskSpec> specs) override {
    if (!closed && !done) batches.push_back(std::move(specs));
  }
  void Close() override { closed = true; }

  /// Every spec sent, in order.
  std::vector<rpc::TaskSpec> Sent() const {
    std::vector<rpc::TaskSpec> all;
    for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
    return all;
  }
  /// The worker answers: one reply message with a result of each task.
  void Reply(const std::vector<std::string>& task_ids, bool application_error = false) {
    rpc::PushTasksReply reply;
    for (const auto& id : task_ids) {
      rpc::TaskResult* r = reply.add_results();
      r->set_task_id(id);
      r->set_is_application_error(application_error);
    }
    on_reply_(reply);
  }
  /// The worker answers with these results as they are.
  void ReplyWith(rpc::PushTasksReply reply) { on_reply_(reply); }
  /// The stream ends (an error status: it broke).
  void Finish(const grpc::Status& status) {
    ASSERT_FALSE(done) << "on_done runs once";
    done = true;
    on_done_(status);
  }

  rpc::Address worker;
  std::vector<std::vector<rpc::TaskSpec>> batches;
  bool closed = false;
  bool done = false;

 private:
  ReplyCallback on_reply_;
  DoneCallback on_done_;
};

/// Opens FakeStreams and keeps them, in opening order.
class FakeStreams final : public TaskStreamOpener {
 public:
  std::shared_ptr<TaskStream> Open(const rpc::Address& worker, TaskStream::ReplyCallback on_reply,
                                   TaskStream::DoneCallback on_done) override {
    auto s = std::make_shared<FakeStream>(worker, std::move(on_reply), std::move(on_done));
    opened.push_back(s);
    return s;
  }
  std::vector<std::shared_ptr<FakeStream>> opened;
};

/// Raylets that answer lease requests when the test says.
class FakeRaylets final : public LeaseClient {
 public:
  struct Request {
    std::string raylet;
    rpc::RequestWorkerLeaseRequest req;
    LeaseCallback done;
    bool answered = false;
  };
  struct Return {
    std::string raylet;
    rpc::ReturnWorkerRequest req;
    bool at_shutdown;
  };

  void RequestLease(const std::string& raylet, const rpc::RequestWorkerLeaseRequest& req,
                    LeaseCallback done) override {
    requests.push_back({raylet, req, std::move(done)});
  }
  void ReturnLease(const std::string& raylet, const rpc::ReturnWorkerRequest& req) override {
    returns.push_back({raylet, req, false});
  }
  void ReturnLeaseNow(const std::string& raylet, const rpc::ReturnWorkerRequest& req) override {
    returns.push_back({raylet, req, true});
  }

  /// Requests not answered yet.
  size_t Unanswered() const {
    size_t n = 0;
    for (const auto& r : requests) n += r.answered ? 0 : 1;
    return n;
  }
  /// Answers request `i` with `reply` and `status`.
  void Answer(size_t i, rpc::RequestWorkerLeaseReply reply, const grpc::Status& status = grpc::Status::OK) {
    ASSERT_LT(i, requests.size());
    ASSERT_FALSE(requests[i].answered) << "request " << i << " answered twice";
    requests[i].answered = true;
    LeaseCallback done = requests[i].done;  // the callback may add requests
    done(status, reply);
  }
  /// Grants request `i`: lease `lease_id` on a worker listening on `port`.
  void Grant(size_t i, const std::string& lease_id, int port) {
    rpc::RequestWorkerLeaseReply reply;
    reply.set_lease_id(lease_id);
    reply.mutable_worker_address()->set_host("127.0.0.1");
    reply.mutable_worker_address()->set_port(port);
    reply.mutable_worker_address()->set_worker_id("worker-" + lease_id);
    Answer(i, reply);
  }

  std::vector<Request> requests;
  std::vector<Return> returns;
};

/// A GCS that answers GetActorInfo when the test says.
class FakeGcs final : public ActorInfoClient {
 public:
  struct Call {
    rpc::GetActorInfoRequest req;
    Callback done;
    bool answered = false;
  };
  void GetActorInfo(const rpc::GetActorInfoRequest& req, std::chrono::milliseconds, Callback done) override {
    calls.push_back({req, std::move(done)});
  }
  /// The last call not answered yet (fails the test when there is none).
  size_t Open() const {
    for (size_t i = calls.size(); i > 0; --i) {
      if (!calls[i - 1].answered) return i - 1;
    }
    ADD_FAILURE() << "no GetActorInfo call is waiting";
    return calls.size();
  }
  /// Answers call `i` with the actor in `state` (at `port` when alive).
  void Answer(size_t i, rpc::ActorState state, int port = 0, const rpc::ErrorRecord* death = nullptr) {
    ASSERT_LT(i, calls.size());
    ASSERT_FALSE(calls[i].answered);
    calls[i].answered = true;
    rpc::GetActorInfoReply reply;
    rpc::ActorInfo* info = reply.mutable_actor();
    info->set_actor_id(calls[i].req.actor_id());
    info->set_state(state);
    if (port != 0) {
      info->mutable_address()->set_host("127.0.0.1");
      info->mutable_address()->set_port(port);
    }
    if (death) *info->mutable_death_cause() = *death;
    Callback done = calls[i].done;
    done(grpc::Status::OK, reply);
  }
  std::vector<Call> calls;
};

/// The GCS's node table and raylet probes, answered when the test says.
class FakeNodeWatch final : public NodeWatchClient {
 public:
  struct Probe {
    std::string raylet;
    ProbeCallback done;
    bool answered = false;
  };
  void GetAllNodes(std::chrono::milliseconds, NodesCallback done) override { tables.push_back(std::move(done)); }
  void ProbeRaylet(const std::string& raylet, std::chrono::milliseconds, ProbeCallback done) override {
    probes.push_back({raylet, std::move(done)});
  }
  /// Answers the oldest GetAllNodes not answered yet: `dead` maps node id -> death reason.
  void AnswerTable(const std::map<std::string, std::string>& dead, const std::vector<std::string>& alive = {}) {
    ASSERT_LT(answered_tables, tables.size()) << "no GetAllNodes call is waiting";
    rpc::GetAllNodesReply reply;
    for (const auto& [id, why] : dead) {
      rpc::NodeInfo* n = reply.add_nodes();
      n->set_node_id(id);
      n->set_alive(false);
      n->set_death_reason(why);
    }
    for (const auto& id : alive) {
      rpc::NodeInfo* n = reply.add_nodes();
      n->set_node_id(id);
      n->set_alive(true);
    }
    NodesCallback done = tables[answered_tables++];
    done(grpc::Status::OK, reply);
  }
  /// Answers probe `i`: whether the raylet answered.
  void AnswerProbe(size_t i, bool answered) {
    ASSERT_LT(i, probes.size());
    ASSERT_FALSE(probes[i].answered);
    probes[i].answered = true;
    ProbeCallback done = probes[i].done;
    done(answered);
  }
  size_t Waiting() const { return tables.size() - answered_tables; }
  std::vector<NodesCallback> tables;
  size_t answered_tables = 0;
  std::vector<Probe> probes;
};

/// Records how each task ended.
class RecordingFinisher final : public TaskFinisher {
 public:
  void CompleteTask(const rpc::TaskSpec& spec, rpc::TaskResult&, const std::vector<std::string>&) override {
    completed.push_back(spec);
  }
  void FailTask(const rpc::TaskSpec& spec, const rpc::ErrorRecord& record, const std::vector<std::string>&) override {
    failed.emplace_back(spec, record);
  }
  void ReleaseArgs(const std::vector<std::string>& arg_ids) override {
    released.insert(released.end(), arg_ids.begin(), arg_ids.end());
  }
  void HoldArgs(const std::vector<std::string>& arg_ids) override {
    held.insert(held.end(), arg_ids.begin(), arg_ids.end());
  }
  void Retried(const rpc::TaskSpec& spec) override { retried.push_back(spec); }
  void GeneratorItem(const rpc::TaskSpec& spec, rpc::TaskResult& result) override {
    items.emplace_back(spec.task_id(), result.generator_item());
  }
  /// Counts of an argument taken (the submit's and HoldArgs') and not released.
  int Counted(const std::string& id, bool ended) const {
    return (ended ? 0 : 1) + static_cast<int>(std::count(held.begin(), held.end(), id)) -
           static_cast<int>(std::count(released.begin(), released.end(), id));
  }
  std::vector<std::string> held;
  std::vector<rpc::TaskSpec> completed;
  std::vector<rpc::TaskSpec> retried;  // each retry's spec, as the new attempt
  std::vector<std::pair<rpc::TaskSpec, rpc::ErrorRecord>> failed;
  std::vector<std::string> released;
  std::vector<std::pair<std::string, int>> items;  // generator items: task id, generator_item
};

/// A pending normal task named `name` needing `cpus` CPUs.
inline PendingTaskPtr NormalTask(const std::string& name, int max_retries = 3, double cpus = 1) {
  auto t = std::make_shared<PendingTask>();
  t->spec.set_type(rpc::NORMAL_TASK);
  t->spec.set_language(rpc::CPP);
  t->spec.set_job_id(std::string("\x01\x00\x00\x00", 4));
  t->spec.set_task_id(NewTaskId(t->spec.job_id()));
  t->spec.set_name(name);
  t->spec.set_num_returns(1);
  t->spec.set_max_retries(max_retries);
  (*t->spec.mutable_resources())["CPU"] = cpus;
  return t;
}

/// Task ids of `specs`, in order.
inline std::vector<std::string> Ids(const std::vector<rpc::TaskSpec>& specs) {
  std::vector<std::string> ids;
  for (const auto& s : specs) ids.push_back(s.task_id());
  return ids;
}

}  // namespace polyray::core::fakes

#endif  // POLYRAY_TESTS_CORE_SUBMITTER_FAKES_H_

// NormalTaskSubmitter (src/core/normal_task_submitter.h) in process, with
// fake raylets, fake workers, a recording owner and a manual clock
// (core_submitter_fakes.h): every rule of the submitter decided step by step
// in microseconds of real time.
//
// Invariants checked: a broken stream retries a task up to max_retries and
// then fails it with WORKER_CRASHED; a lease with nothing to do is returned
// after the spec's linger and no sooner, and a task that comes within the
// linger reuses it; a lease pipelines (the spec's InflightLimit) only once
// its average task time is short and the queue long; a spilled request goes
// to the named raylet with grant_or_reject and the lease goes back there; a
// failure reply fails the queued tasks of that class and no other; lease
// requests are capped at the spec's kLeaseMaxPendingRequests; a start
// failure charges only the task its request was made for, once, while it
// still waits at that attempt; a broken stream charges only the oldest task
// in flight (those pipelined behind it go back uncharged); the node watch
// ends leases on nodes the GCS declares dead (NODE_DIED with its reason), and
// a broken stream on another node whose raylet does not answer is NODE_DIED.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/normal_task_submitter.h"
#include "core_submitter_fakes.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {
namespace {

using fakes::FakeNodeWatch;
using fakes::FakeRaylets;
using fakes::FakeStreams;
using fakes::Ids;
using fakes::ManualClock;
using fakes::NormalTask;
using fakes::RecordingFinisher;

constexpr char kLocalRaylet[] = "127.0.0.1:6001";
constexpr char kLocalNode[] = "node-local";

class NormalTaskSubmitterTest : public ::testing::Test {
 protected:
  NormalTaskSubmitterTest()
      : submitter_(NormalTaskSubmitter::Deps{raylets_, streams_, finisher_, clock_, kLocalRaylet,
                                             [] { return false; }, nodes_, kLocalNode}) {}

  /// Submits `task` and returns it (for its id).
  PendingTaskPtr Submit(PendingTaskPtr task) {
    submitter_.Submit(task);
    return task;
  }

  /// Grants request `i` on a worker of node `node` (another node than this one's).
  void GrantOn(size_t i, const std::string& lease_id, int port, const std::string& node) {
    rpc::RequestWorkerLeaseReply reply;
    reply.set_lease_id(lease_id);
    reply.mutable_worker_address()->set_host("10.0.0.2");
    reply.mutable_worker_address()->set_port(port);
    reply.mutable_worker_address()->set_worker_id("worker-" + lease_id);
    reply.mutable_worker_address()->set_node_id(node);
    raylets_.Answer(i, reply);
  }

  std::shared_ptr<FakeNodeWatch> nodes_ = std::make_shared<FakeNodeWatch>();
  FakeRaylets raylets_;
  FakeStreams streams_;
  RecordingFinisher finisher_;
  ManualClock clock_;
  NormalTaskSubmitter submitter_;
};

TEST_F(NormalTaskSubmitterTest, BrokenStreamRetriesUpToMaxRetriesThenWorkerCrashed) {
  PendingTaskPtr t = Submit(NormalTask("f", /*max_retries=*/2));
  for (int attempt = 0; attempt <= 2; ++attempt) {
    ASSERT_EQ(raylets_.requests.size(), static_cast<size_t>(attempt + 1)) << "one lease request an attempt";
    raylets_.Grant(attempt, "lease" + std::to_string(attempt), 7000 + attempt);
    ASSERT_EQ(streams_.opened.size(), static_cast<size_t>(attempt + 1));
    auto stream = streams_.opened.back();
    ASSERT_EQ(stream->Sent().size(), 1u);
    EXPECT_EQ(stream->Sent()[0].attempt(), attempt);
    EXPECT_EQ(stream->worker.port(), 7000 + attempt);
    EXPECT_TRUE(finisher_.failed.empty()) << "failed before its retries were used, attempt " << attempt;
    stream->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
    // The broken worker goes back with disconnect (not reused).
    ASSERT_EQ(raylets_.returns.size(), static_cast<size_t>(attempt + 1));
    EXPECT_TRUE(raylets_.returns.back().req.disconnect());
    EXPECT_EQ(raylets_.returns.back().req.lease_id(), "lease" + std::to_string(attempt));
  }
  EXPECT_EQ(raylets_.requests.size(), 3u) << "no fourth attempt after max_retries=2";
  // Each retry was told to the finisher as its new attempt (task events: PENDING_NODE).
  ASSERT_EQ(finisher_.retried.size(), 2u);
  EXPECT_EQ(finisher_.retried[0].attempt(), 1);
  EXPECT_EQ(finisher_.retried[1].attempt(), 2);
  ASSERT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(finisher_.failed[0].first.task_id(), t->spec.task_id());
  EXPECT_EQ(finisher_.failed[0].second.kind(), rpc::WORKER_CRASHED);
  EXPECT_NE(finisher_.failed[0].second.message().find("3 attempt(s)"), std::string::npos)
      << finisher_.failed[0].second.message();
  EXPECT_TRUE(finisher_.completed.empty());
}

TEST_F(NormalTaskSubmitterTest, GeneratorItemsGoToTheFinisherInOrderAndTheTaskStaysInFlight) {
  PendingTaskPtr t = Submit(NormalTask("gen", /*max_retries=*/0));
  t->spec.set_generator(2);
  raylets_.Grant(0, "lease0", 7000);
  auto stream = streams_.opened.back();
  rpc::PushTasksReply items;
  for (int k = 1; k <= 2; ++k) {
    rpc::TaskResult* r = items.add_results();
    r->set_task_id(t->spec.task_id());
    r->set_generator_item(k);
    r->add_returns()->set_object_id("item" + std::to_string(k));
  }
  stream->ReplyWith(items);
  ASSERT_EQ(finisher_.items.size(), 2u);
  EXPECT_EQ(finisher_.items[0], std::make_pair(t->spec.task_id(), 1));
  EXPECT_EQ(finisher_.items[1], std::make_pair(t->spec.task_id(), 2));
  EXPECT_TRUE(finisher_.completed.empty()) << "an item is not the task's end";
  // The worker dies after the items: the task (no retries) fails, once.
  stream->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
  ASSERT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(finisher_.failed[0].second.kind(), rpc::WORKER_CRASHED);
  // A second generator task ends normally after its item.
  PendingTaskPtr u = Submit(NormalTask("gen2", /*max_retries=*/0));
  raylets_.Grant(1, "lease1", 7001);
  auto second = streams_.opened.back();
  rpc::PushTasksReply both;
  rpc::TaskResult* item = both.add_results();
  item->set_task_id(u->spec.task_id());
  item->set_generator_item(1);
  both.add_results()->set_task_id(u->spec.task_id());
  second->ReplyWith(both);
  EXPECT_EQ(finisher_.items.size(), 3u);
  ASSERT_EQ(finisher_.completed.size(), 1u);
  EXPECT_EQ(finisher_.completed[0].task_id(), u->spec.task_id());
}

TEST_F(NormalTaskSubmitterTest, ApplicationErrorRetriedOnlyWithRetryExceptions) {
  PendingTaskPtr plain = NormalTask("plain", 3);
  PendingTaskPtr retried = NormalTask("retried", 3);
  retried->spec.set_retry_exceptions(true);
  Submit(plain);
  raylets_.Grant(0, "l0", 7000);
  auto stream = streams_.opened.at(0);
  stream->Reply({plain->spec.task_id()}, /*application_error=*/true);
  ASSERT_EQ(finisher_.completed.size(), 1u) << "an application error is a result unless retry_exceptions";

  Submit(retried);
  ASSERT_EQ(stream->Sent().size(), 2u) << "the lingering lease takes the next task";
  stream->Reply({retried->spec.task_id()}, /*application_error=*/true);
  ASSERT_EQ(stream->Sent().size(), 3u) << "retried on the same lease";
  EXPECT_EQ(stream->Sent()[2].attempt(), 1);
  EXPECT_EQ(finisher_.completed.size(), 1u);
}

TEST_F(NormalTaskSubmitterTest, ShowsTheProofAndRetriesARefusedTaskOnANewLease) {
  PendingTaskPtr t = Submit(NormalTask("f", /*max_retries=*/1));
  rpc::RequestWorkerLeaseReply reply;
  reply.set_lease_id("l0");
  reply.mutable_worker_address()->set_port(7000);
  reply.mutable_worker_address()->set_worker_id("worker-l0");
  reply.mutable_proof()->set_lease_id("l0");
  reply.mutable_proof()->set_seq(3);
  reply.mutable_proof()->set_proof("proof-l0");
  raylets_.Answer(0, reply);
  auto first = streams_.opened.at(0);
  ASSERT_NE(first->PendingLease(), nullptr) << "the lease's stream shows the grant's proof";
  EXPECT_EQ(first->PendingLease()->proof(), "proof-l0");
  rpc::PushTasksReply refused;
  rpc::TaskResult* r = refused.add_results();
  r->set_task_id(t->spec.task_id());
  r->set_lease_refused(true);
  first->ReplyWith(refused);
  EXPECT_TRUE(finisher_.completed.empty() && finisher_.failed.empty()) << "a retry is left";
  ASSERT_EQ(raylets_.returns.size(), 1u) << "the refused lease goes back";
  EXPECT_FALSE(raylets_.returns[0].req.disconnect());
  EXPECT_TRUE(first->closed);
  ASSERT_EQ(raylets_.requests.size(), 2u) << "a new lease is asked for";
  raylets_.Grant(1, "l1", 7001);
  auto second = streams_.opened.at(1);
  ASSERT_EQ(second->Sent().size(), 1u);
  EXPECT_EQ(second->Sent()[0].attempt(), 1);
  second->ReplyWith(refused);
  ASSERT_EQ(finisher_.completed.size(), 1u) << "no retry left: the refusal is its result";
}

TEST_F(NormalTaskSubmitterTest, IdleLeaseReturnedAfterLingerNotBefore) {
  PendingTaskPtr t = Submit(NormalTask("f"));
  raylets_.Grant(0, "l0", 7000);
  auto stream = streams_.opened.at(0);
  clock_.AdvanceMs(3);
  stream->Reply({t->spec.task_id()});
  ASSERT_EQ(finisher_.completed.size(), 1u);
  EXPECT_TRUE(raylets_.returns.empty()) << "returned at once, no linger";

  clock_.AdvanceMs(spec::kLeaseLingerMs - 1);
  EXPECT_TRUE(raylets_.returns.empty()) << "returned before the linger ended";
  EXPECT_FALSE(stream->closed);

  clock_.AdvanceMs(1);
  ASSERT_EQ(raylets_.returns.size(), 1u);
  EXPECT_EQ(raylets_.returns[0].raylet, kLocalRaylet);
  EXPECT_EQ(raylets_.returns[0].req.lease_id(), "l0");
  EXPECT_FALSE(raylets_.returns[0].req.disconnect()) << "an idle worker is reusable";
  EXPECT_TRUE(stream->closed);

  // The worker then ends the stream cleanly: nothing more to return or fail.
  stream->Finish(grpc::Status::OK);
  EXPECT_EQ(raylets_.returns.size(), 1u);
  EXPECT_TRUE(finisher_.failed.empty());
}

TEST_F(NormalTaskSubmitterTest, TaskWithinLingerReusesLease) {
  PendingTaskPtr a = Submit(NormalTask("a"));
  raylets_.Grant(0, "l0", 7000);
  auto stream = streams_.opened.at(0);
  stream->Reply({a->spec.task_id()});

  clock_.AdvanceMs(spec::kLeaseLingerMs - 1);
  PendingTaskPtr b = Submit(NormalTask("b"));
  EXPECT_EQ(raylets_.requests.size(), 1u) << "a new lease was asked for while one lingered";
  EXPECT_EQ(streams_.opened.size(), 1u);
  ASSERT_EQ(Ids(stream->Sent()), (std::vector<std::string>{a->spec.task_id(), b->spec.task_id()}));

  // The first linger's timer falls due now and must not take the busy lease.
  clock_.AdvanceMs(1);
  EXPECT_TRUE(raylets_.returns.empty());
  stream->Reply({b->spec.task_id()});
  clock_.AdvanceMs(spec::kLeaseLingerMs - 1);
  EXPECT_TRUE(raylets_.returns.empty()) << "the linger restarts when the lease goes idle again";
  clock_.AdvanceMs(1);
  EXPECT_EQ(raylets_.returns.size(), 1u);
  EXPECT_EQ(finisher_.completed.size(), 2u);
}

TEST_F(NormalTaskSubmitterTest, LeaseRequestsCappedBySpec) {
  for (int i = 0; i < 100; ++i) Submit(NormalTask("f"));
  EXPECT_EQ(raylets_.requests.size(), static_cast<size_t>(spec::kLeaseMaxPendingRequests));
  Submit(NormalTask("f"));
  EXPECT_EQ(raylets_.requests.size(), static_cast<size_t>(spec::kLeaseMaxPendingRequests));
}

TEST_F(NormalTaskSubmitterTest, PipelinesOnlyShortTasksWithALongQueue) {
  std::vector<PendingTaskPtr> tasks;
  for (int i = 0; i < 100; ++i) tasks.push_back(Submit(NormalTask("f")));
  raylets_.Grant(0, "l0", 7000);
  auto stream = streams_.opened.at(0);
  ASSERT_EQ(stream->batches.size(), 1u);
  EXPECT_EQ(stream->batches[0].size(), 1u) << "unknown task time: one at a time";

  // A fast first result (100 us) with 99 queued on one lease: pipelined.
  clock_.Advance(std::chrono::microseconds(100));
  stream->Reply({tasks[0]->spec.task_id()});
  ASSERT_EQ(stream->batches.size(), 2u);
  EXPECT_EQ(stream->batches[1].size(), static_cast<size_t>(spec::kPipeliningMaxInflightFast))
      << "short tasks and a long queue fill the lease in one message";
  EXPECT_EQ(Ids(stream->batches[1]).front(), tasks[1]->spec.task_id()) << "queue order";

  // One of the 32 finishes: one more goes out, the limit stays.
  clock_.Advance(std::chrono::microseconds(100));
  stream->Reply({tasks[1]->spec.task_id()});
  ASSERT_EQ(stream->batches.size(), 3u);
  EXPECT_EQ(stream->batches[2].size(), 1u);
  EXPECT_EQ(stream->Sent().size(), 34u);
}

TEST_F(NormalTaskSubmitterTest, SlowTasksAreNotPipelined) {
  std::vector<PendingTaskPtr> tasks;
  for (int i = 0; i < 100; ++i) tasks.push_back(Submit(NormalTask("f")));
  raylets_.Grant(0, "l0", 7000);
  auto stream = streams_.opened.at(0);
  // 5 ms is above the spec's fast threshold: still one at a time.
  clock_.AdvanceMs(5);
  stream->Reply({tasks[0]->spec.task_id()});
  ASSERT_EQ(stream->batches.size(), 2u);
  EXPECT_EQ(stream->batches[1].size(), 1u);
}

TEST_F(NormalTaskSubmitterTest, ShortQueueIsNotPipelined) {
  // Three tasks on one lease: after a fast result two are queued, not more
  // than 2x the one lease, so each still waits for a worker of its own
  // (tasks that wait on each other must not queue behind one another).
  std::vector<PendingTaskPtr> tasks;
  for (int i = 0; i < 3; ++i) tasks.push_back(Submit(NormalTask("f")));
  raylets_.Grant(0, "l0", 7000);
  auto stream = streams_.opened.at(0);
  clock_.Advance(std::chrono::microseconds(100));
  stream->Reply({tasks[0]->spec.task_id()});
  ASSERT_EQ(stream->batches.size(), 2u);
  EXPECT_EQ(stream->batches[1].size(), 1u);
}

TEST_F(NormalTaskSubmitterTest, LeaseRequestCarriesTheRuntimeEnvAndEnvsNeverShareALease) {
  // The raylet prepares the env and pools workers by it, so the lease request's
  // view of the spec must keep it, and tasks of two envs need two leases.
  PendingTaskPtr a = NormalTask("f");
  a->spec.set_runtime_env(R"({"env_vars":{"V":"a"}})");
  PendingTaskPtr b = NormalTask("f");
  b->spec.set_runtime_env(R"({"env_vars":{"V":"b"}})");
  Submit(a);
  ASSERT_EQ(raylets_.requests.size(), 1u);
  EXPECT_EQ(raylets_.requests[0].req.task().runtime_env(), a->spec.runtime_env());
  raylets_.Grant(0, "la", 7000);
  Submit(b);
  ASSERT_EQ(raylets_.requests.size(), 2u) << "a task of another runtime env asks for its own lease";
  EXPECT_EQ(raylets_.requests[1].req.task().runtime_env(), b->spec.runtime_env());
}

TEST_F(NormalTaskSubmitterTest, SpillOverGoesToTheNamedRayletAndLeaseReturnsThere) {
  PendingTaskPtr t = Submit(NormalTask("f"));
  ASSERT_EQ(raylets_.requests.size(), 1u);
  EXPECT_EQ(raylets_.requests[0].raylet, kLocalRaylet);
  EXPECT_FALSE(raylets_.requests[0].req.grant_or_reject());

  rpc::RequestWorkerLeaseReply spill;
  spill.mutable_retry_at()->set_host("10.0.0.2");
  spill.mutable_retry_at()->set_port(6002);
  raylets_.Answer(0, spill);
  ASSERT_EQ(raylets_.requests.size(), 2u);
  EXPECT_EQ(raylets_.requests[1].raylet, "10.0.0.2:6002");
  EXPECT_TRUE(raylets_.requests[1].req.grant_or_reject()) << "the node spilled to must grant or reject";
  EXPECT_EQ(raylets_.requests[1].req.task().name(), "f");

  raylets_.Grant(1, "remote-lease", 7100);
  auto stream = streams_.opened.at(0);
  ASSERT_EQ(stream->Sent().size(), 1u);
  stream->Reply({t->spec.task_id()});
  clock_.AdvanceMs(spec::kLeaseLingerMs);
  ASSERT_EQ(raylets_.returns.size(), 1u);
  EXPECT_EQ(raylets_.returns[0].raylet, "10.0.0.2:6002") << "a lease goes back to the raylet that granted it";
  EXPECT_EQ(raylets_.requests.size(), 2u) << "the spilled request counted as the one request";
}

TEST_F(NormalTaskSubmitterTest, UnreachableSpillTargetAsksLocalRayletAgainLater) {
  Submit(NormalTask("f"));
  rpc::RequestWorkerLeaseReply spill;
  spill.mutable_retry_at()->set_host("10.0.0.2");
  spill.mutable_retry_at()->set_port(6002);
  raylets_.Answer(0, spill);
  raylets_.Answer(1, {}, grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone"));
  EXPECT_EQ(raylets_.requests.size(), 2u) << "asked again at once";
  clock_.AdvanceMs(spec::kLeaseSpillRetryMs);
  ASSERT_EQ(raylets_.requests.size(), 3u);
  EXPECT_EQ(raylets_.requests[2].raylet, kLocalRaylet);
  EXPECT_FALSE(raylets_.requests[2].req.grant_or_reject());
  EXPECT_TRUE(finisher_.failed.empty());
}

TEST_F(NormalTaskSubmitterTest, LeaseFailureFailsQueuedTasksOfThatClassOnly) {
  std::vector<PendingTaskPtr> gpu;
  for (int i = 0; i < 3; ++i) {
    auto t = NormalTask("needs_gpu");
    (*t->spec.mutable_resources())["GPU"] = 1;
    gpu.push_back(Submit(t));
  }
  PendingTaskPtr cpu = Submit(NormalTask("cpu_only"));
  ASSERT_EQ(raylets_.requests.size(), 4u);  // three for the GPU class, one for the CPU class

  rpc::RequestWorkerLeaseReply failure;
  failure.mutable_failure()->set_kind(rpc::RUNTIME_ERROR);
  failure.mutable_failure()->set_message("no node has a GPU");
  raylets_.Answer(0, failure);  // a GPU request (the class's first)
  ASSERT_EQ(finisher_.failed.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(finisher_.failed[i].first.task_id(), gpu[i]->spec.task_id());
    EXPECT_EQ(finisher_.failed[i].second.message(), "no node has a GPU");
  }

  // Another GPU request granted now finds nothing to run: the lease goes back.
  raylets_.Grant(1, "late", 7001);
  ASSERT_EQ(raylets_.returns.size(), 1u);
  EXPECT_EQ(raylets_.returns[0].req.lease_id(), "late");
  EXPECT_TRUE(streams_.opened.empty());

  // The CPU class is untouched.
  raylets_.Grant(3, "cpu", 7003);
  ASSERT_EQ(streams_.opened.size(), 1u);
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), std::vector<std::string>{cpu->spec.task_id()});
  EXPECT_EQ(finisher_.failed.size(), 3u);
}

/// The raylet's answer for a worker killed before it registered.
rpc::RequestWorkerLeaseReply CrashedBeforeRegistering() {
  rpc::RequestWorkerLeaseReply reply;
  rpc::ErrorRecord* f = reply.mutable_failure();
  f->set_kind(rpc::WORKER_CRASHED);
  f->set_type_name("WorkerCrashedError");
  f->set_reason(rpc::REASON_PROCESS_EXITED);
  f->set_exit_code(-9);
  f->set_message("CPP worker (pid 42) failed to start: it was killed by signal SIGKILL before registering");
  return reply;
}

/// The oldest lease request not answered yet.
size_t OldestUnanswered(const FakeRaylets& raylets) {
  for (size_t i = 0; i < raylets.requests.size(); ++i) {
    if (!raylets.requests[i].answered) return i;
  }
  ADD_FAILURE() << "no lease request is waiting";
  return raylets.requests.size();
}

TEST_F(NormalTaskSubmitterTest, WorkerCrashBeforeRegisteringChargesOnlyTheHeadTask) {
  PendingTaskPtr head = Submit(NormalTask("head", /*max_retries=*/2));
  PendingTaskPtr next = Submit(NormalTask("next", /*max_retries=*/0));
  ASSERT_EQ(raylets_.requests.size(), 2u) << "two requests, both made for the head task at attempt 0";
  raylets_.Answer(0, CrashedBeforeRegistering());
  EXPECT_TRUE(finisher_.failed.empty()) << "the head task has retries left; the queue is untouched";
  EXPECT_EQ(head->spec.attempt(), 1);
  EXPECT_EQ(next->spec.attempt(), 0);
  ASSERT_EQ(raylets_.requests.size(), 3u) << "a lease is asked for again";
  // The second request was made for the head at attempt 0, which was charged
  // already: its failure costs nothing.
  raylets_.Answer(1, CrashedBeforeRegistering());
  EXPECT_EQ(head->spec.attempt(), 1) << "one task charged twice for the requests made for it in one go";
  EXPECT_TRUE(finisher_.failed.empty());
  // Every further start failure: the head is charged once per attempt, and fails after 3.
  int answered = 0;
  while (finisher_.failed.empty() && answered < 20) {
    raylets_.Answer(OldestUnanswered(raylets_), CrashedBeforeRegistering());
    answered++;
  }
  ASSERT_EQ(finisher_.failed.size(), 1u) << "retries spent: only the head task fails";
  EXPECT_EQ(finisher_.failed[0].first.task_id(), head->spec.task_id());
  const rpc::ErrorRecord& r = finisher_.failed[0].second;
  EXPECT_EQ(r.kind(), rpc::WORKER_CRASHED);
  EXPECT_EQ(r.exit_code(), -9);
  EXPECT_NE(r.message().find("SIGKILL"), std::string::npos) << r.message();
  EXPECT_NE(r.message().find("3 attempt(s)"), std::string::npos) << r.message();
  EXPECT_EQ(next->spec.attempt(), 0) << "the task behind the head was charged";
  raylets_.Grant(OldestUnanswered(raylets_), "ok", 7009);
  ASSERT_EQ(streams_.opened.size(), 1u);
  EXPECT_EQ(Ids(streams_.opened[0]->Sent()), std::vector<std::string>{next->spec.task_id()})
      << "the rest of the queue runs on the next lease";
  EXPECT_EQ(finisher_.failed.size(), 1u);
}

TEST_F(NormalTaskSubmitterTest, StartFailureDoesNotChargeATaskAlreadyPushed) {
  PendingTaskPtr a = Submit(NormalTask("a", /*max_retries=*/0));
  PendingTaskPtr b = Submit(NormalTask("b", /*max_retries=*/0));
  ASSERT_EQ(raylets_.requests.size(), 2u);
  raylets_.Grant(0, "l0", 7000);
  ASSERT_EQ(Ids(streams_.opened.at(0)->Sent()), std::vector<std::string>{a->spec.task_id()});
  // Request 1 was made for `a`, which runs now: its start failure charges nobody
  // (not `a`, not `b` now at the head); a lease is asked for again.
  raylets_.Answer(1, CrashedBeforeRegistering());
  EXPECT_TRUE(finisher_.failed.empty()) << finisher_.failed.at(0).second.message();
  EXPECT_EQ(a->spec.attempt(), 0);
  EXPECT_EQ(b->spec.attempt(), 0);
  raylets_.Grant(OldestUnanswered(raylets_), "l1", 7001);
  EXPECT_EQ(Ids(streams_.opened.at(1)->Sent()), std::vector<std::string>{b->spec.task_id()});
}

TEST_F(NormalTaskSubmitterTest, DeadWorkerChargesOnlyTheTaskItWasRunning) {
  std::vector<PendingTaskPtr> tasks;
  for (int i = 0; i < 100; ++i) tasks.push_back(Submit(NormalTask("f", /*max_retries=*/0)));
  raylets_.Grant(0, "l0", 7000);
  auto stream = streams_.opened.at(0);
  clock_.Advance(std::chrono::microseconds(100));
  stream->Reply({tasks[0]->spec.task_id()});
  ASSERT_EQ(stream->batches.at(1).size(), static_cast<size_t>(spec::kPipeliningMaxInflightFast));
  // tasks[1] runs, tasks[2..32] wait behind it on the worker; it dies.
  stream->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
  ASSERT_EQ(finisher_.failed.size(), 1u) << "only the task it was running is charged";
  EXPECT_EQ(finisher_.failed[0].first.task_id(), tasks[1]->spec.task_id());
  EXPECT_EQ(finisher_.failed[0].second.kind(), rpc::WORKER_CRASHED);
  for (int i = 2; i <= spec::kPipeliningMaxInflightFast; ++i) EXPECT_EQ(tasks[i]->spec.attempt(), 0) << i;
  // The pipelined ones go back to the front of the queue, in order.
  raylets_.Grant(OldestUnanswered(raylets_), "l1", 7001);
  auto again = streams_.opened.at(1);
  ASSERT_EQ(again->Sent().size(), 1u);
  EXPECT_EQ(again->Sent()[0].task_id(), tasks[2]->spec.task_id());
  EXPECT_EQ(again->Sent()[0].attempt(), 0);
}

TEST_F(NormalTaskSubmitterTest, PipelinedTaskIsSparedAtMostThreeTimes) {
  std::vector<PendingTaskPtr> t;
  for (int i = 0; i < 100; ++i) t.push_back(Submit(NormalTask("f" + std::to_string(i), /*max_retries=*/3)));
  constexpr int kFast = spec::kPipeliningMaxInflightFast;
  // Round r: a new lease runs t[r] alone, answers it fast, then takes the next
  // kFast tasks (t[r+1] runs, the rest wait behind it) and its worker dies.
  for (int r = 0; r < 4; ++r) {
    raylets_.Grant(OldestUnanswered(raylets_), "l" + std::to_string(r), 7000 + r);
    auto s = streams_.opened.back();
    ASSERT_EQ(s->Sent().size(), 1u);
    ASSERT_EQ(s->Sent()[0].task_id(), t[r]->spec.task_id()) << "round " << r;
    clock_.Advance(std::chrono::microseconds(100));
    s->Reply({t[r]->spec.task_id()});
    ASSERT_EQ(s->batches.at(1).size(), static_cast<size_t>(kFast));
    ASSERT_EQ(s->batches[1][0].task_id(), t[r + 1]->spec.task_id()) << "queue order kept, round " << r;
    s->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
    EXPECT_EQ(t[r + 1]->spec.attempt(), 1) << "the running task is charged, round " << r;
  }
  // t[5..kFast] were behind the running task in all 4 rounds: spared 3 times, charged the 4th.
  for (int i = 5; i <= kFast; ++i) EXPECT_EQ(t[i]->spec.attempt(), 1) << i;
  // Those that joined later were spared fewer than 3 times: not charged.
  for (int i = kFast + 1; i <= kFast + 3; ++i) EXPECT_EQ(t[i]->spec.attempt(), 0) << i;
  EXPECT_TRUE(finisher_.failed.empty());
  // The retried ones keep their order at the front of the queue.
  raylets_.Grant(OldestUnanswered(raylets_), "last", 7100);
  EXPECT_EQ(streams_.opened.back()->Sent().at(0).task_id(), t[4]->spec.task_id());
}

TEST_F(NormalTaskSubmitterTest, NodeWatchEndsLeasesOnANodeTheGcsDeclaresDead) {
  PendingTaskPtr once = Submit(NormalTask("once", /*max_retries=*/0));
  GrantOn(0, "remote", 7200, "node-b");
  auto stream = streams_.opened.at(0);
  ASSERT_EQ(stream->Sent().size(), 1u);
  EXPECT_EQ(nodes_->Waiting(), 0u);
  clock_.AdvanceMs(spec::kLeaseNodeWatchMs - 1);
  EXPECT_EQ(nodes_->Waiting(), 0u) << "read before node_watch_ms";
  clock_.AdvanceMs(1);
  ASSERT_EQ(nodes_->Waiting(), 1u) << "the node table is read every node_watch_ms while a remote lease is held";
  nodes_->AnswerTable({}, {"node-b"});
  EXPECT_TRUE(finisher_.failed.empty());
  clock_.AdvanceMs(spec::kLeaseNodeWatchMs);
  ASSERT_EQ(nodes_->Waiting(), 1u);
  nodes_->AnswerTable({{"node-b", "missed 10 heartbeats"}});
  // The stream never broke, yet the task ends with the GCS's reason.
  ASSERT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(finisher_.failed[0].first.task_id(), once->spec.task_id());
  EXPECT_EQ(finisher_.failed[0].second.kind(), rpc::NODE_DIED);
  EXPECT_NE(finisher_.failed[0].second.message().find("missed 10 heartbeats"), std::string::npos)
      << finisher_.failed[0].second.message();
  EXPECT_NE(finisher_.failed[0].second.message().find(Hex("node-b")), std::string::npos);
  EXPECT_TRUE(stream->closed);
  ASSERT_EQ(raylets_.returns.size(), 1u);
  EXPECT_TRUE(raylets_.returns[0].req.disconnect());
  // The worker's stream ends later: nothing more happens.
  stream->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "reset"));
  EXPECT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(raylets_.returns.size(), 1u);
  // No remote lease left: the watch stops.
  clock_.AdvanceMs(10 * spec::kLeaseNodeWatchMs);
  EXPECT_EQ(nodes_->Waiting(), 0u);
}

TEST_F(NormalTaskSubmitterTest, NodeWatchRetriesARetriableTaskAndIgnoresLocalLeases) {
  PendingTaskPtr local = Submit(NormalTask("local"));
  GrantOn(0, "here", 7300, kLocalNode);
  clock_.AdvanceMs(3 * spec::kLeaseNodeWatchMs);
  EXPECT_EQ(nodes_->Waiting(), 0u) << "a lease on this node is not watched";

  auto gpu = NormalTask("retried", /*max_retries=*/1);
  (*gpu->spec.mutable_resources())["GPU"] = 1;
  PendingTaskPtr retried = Submit(gpu);
  size_t req = raylets_.requests.size() - 1;
  GrantOn(req, "there", 7301, "node-c");
  clock_.AdvanceMs(spec::kLeaseNodeWatchMs);
  ASSERT_EQ(nodes_->Waiting(), 1u);
  nodes_->AnswerTable({{"node-c", "killed"}});
  EXPECT_TRUE(finisher_.failed.empty());
  EXPECT_EQ(retried->spec.attempt(), 1);
  EXPECT_EQ(raylets_.requests.size(), req + 2) << "a lease is asked for again";
  EXPECT_FALSE(streams_.opened.at(0)->closed) << "the local lease is untouched";
}

TEST_F(NormalTaskSubmitterTest, BrokenStreamOnAnotherNodeIsNodeDiedWhenItsRayletIsSilent) {
  PendingTaskPtr a = Submit(NormalTask("a", /*max_retries=*/0));
  GrantOn(0, "ra", 7400, "node-d");
  streams_.opened.at(0)->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "reset"));
  EXPECT_TRUE(finisher_.failed.empty()) << "failed before its raylet was probed";
  ASSERT_EQ(nodes_->probes.size(), 1u);
  nodes_->AnswerProbe(0, /*answered=*/false);
  ASSERT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(finisher_.failed[0].second.kind(), rpc::NODE_DIED);

  PendingTaskPtr b = Submit(NormalTask("b", /*max_retries=*/0));
  GrantOn(raylets_.requests.size() - 1, "rb", 7401, "node-e");
  streams_.opened.at(1)->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "reset"));
  ASSERT_EQ(nodes_->probes.size(), 2u);
  nodes_->AnswerProbe(1, /*answered=*/true);
  ASSERT_EQ(finisher_.failed.size(), 2u);
  EXPECT_EQ(finisher_.failed[1].first.task_id(), b->spec.task_id());
  EXPECT_EQ(finisher_.failed[1].second.kind(), rpc::WORKER_CRASHED);
}

TEST_F(NormalTaskSubmitterTest, CloseReturnsLeasesAndFailsLaterTasks) {
  PendingTaskPtr t = Submit(NormalTask("f"));
  raylets_.Grant(0, "l0", 7000);
  streams_.opened.at(0)->Reply({t->spec.task_id()});
  submitter_.Close();
  ASSERT_EQ(raylets_.returns.size(), 1u);
  EXPECT_TRUE(raylets_.returns[0].at_shutdown);
  EXPECT_TRUE(streams_.opened[0]->closed);
  Submit(NormalTask("late"));
  ASSERT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(finisher_.failed[0].second.kind(), rpc::WORKER_CRASHED);
  EXPECT_EQ(raylets_.requests.size(), 1u);
}

// -- arguments after an executor's death (docs/ownership.md, Deaths) --

TEST_F(NormalTaskSubmitterTest, ATaskFailedByItsExecutorsDeathKeepsItsArgumentsForTheGrace) {
  PendingTaskPtr t = NormalTask("doomed", /*max_retries=*/0);
  t->arg_ids = {"arg-doomed"};
  Submit(t);
  raylets_.Grant(0, "lease0", 7000);
  streams_.opened.back()->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
  ASSERT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(finisher_.failed[0].second.kind(), rpc::WORKER_CRASHED);
  EXPECT_EQ(finisher_.Counted("arg-doomed", /*ended=*/true), 1) << "failed, but the argument is still counted";
  clock_.AdvanceMs(TaskFinisher::kArgsGraceMs - 1);
  EXPECT_EQ(finisher_.Counted("arg-doomed", true), 1) << "not before two death-watch rounds";
  clock_.AdvanceMs(1);
  EXPECT_EQ(finisher_.Counted("arg-doomed", true), 0) << "released after the grace, exactly once";
}

TEST_F(NormalTaskSubmitterTest, ATaskRetriedAfterItsExecutorsDeathKeepsItsArgumentsPastAQuickRetry) {
  PendingTaskPtr t = NormalTask("again", /*max_retries=*/1);
  t->arg_ids = {"arg-again"};
  Submit(t);
  raylets_.Grant(0, "lease0", 7000);
  streams_.opened.back()->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
  ASSERT_EQ(raylets_.requests.size(), 2u);
  raylets_.Grant(1, "lease1", 7001);
  streams_.opened.back()->Reply({t->spec.task_id()});
  ASSERT_EQ(finisher_.completed.size(), 1u);
  EXPECT_EQ(finisher_.Counted("arg-again", true), 1) << "the retry completed, the dead attempt's hold remains";
  clock_.AdvanceMs(TaskFinisher::kArgsGraceMs);
  EXPECT_EQ(finisher_.Counted("arg-again", true), 0);
}

TEST_F(NormalTaskSubmitterTest, ANormalResultTakesNoGrace) {
  PendingTaskPtr t = NormalTask("ok");
  t->arg_ids = {"arg-ok"};
  Submit(t);
  raylets_.Grant(0, "lease0", 7000);
  streams_.opened.back()->Reply({t->spec.task_id()});
  ASSERT_EQ(finisher_.completed.size(), 1u);
  EXPECT_TRUE(finisher_.held.empty());
}

// Ray's cancel at the owner (also a borrower's, forwarded here: cancel.h).
TEST_F(NormalTaskSubmitterTest, CancelDropsAQueuedTaskAndNamesTheWorkerOfARunningOne) {
  PendingTaskPtr running = Submit(NormalTask("running", /*max_retries=*/3));
  PendingTaskPtr queued = Submit(NormalTask("queued", /*max_retries=*/3, /*cpus=*/4));
  raylets_.Grant(0, "lease0", 7000);
  ASSERT_EQ(streams_.opened.size(), 1u);
  rpc::Address worker;
  EXPECT_EQ(submitter_.Cancel(queued->spec.task_id(), &worker), NormalTaskSubmitter::CancelFound::kDropped);
  ASSERT_EQ(finisher_.failed.size(), 1u);
  EXPECT_EQ(finisher_.failed[0].first.task_id(), queued->spec.task_id());
  EXPECT_EQ(finisher_.failed[0].second.kind(), rpc::TASK_CANCELLED);
  EXPECT_EQ(submitter_.Cancel(queued->spec.task_id(), &worker), NormalTaskSubmitter::CancelFound::kUnknown);
  EXPECT_EQ(submitter_.Cancel(running->spec.task_id(), &worker), NormalTaskSubmitter::CancelFound::kRunning);
  EXPECT_EQ(worker.port(), 7000);
  // A forced cancel ends the worker: the task fails with TASK_CANCELLED, not retried.
  streams_.opened[0]->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection reset"));
  ASSERT_EQ(finisher_.failed.size(), 2u);
  EXPECT_EQ(finisher_.failed[1].first.task_id(), running->spec.task_id());
  EXPECT_EQ(finisher_.failed[1].second.kind(), rpc::TASK_CANCELLED);
  EXPECT_TRUE(finisher_.retried.empty());
  EXPECT_EQ(raylets_.requests.size(), 2u) << "no new lease for the cancelled task";
}

TEST_F(NormalTaskSubmitterTest, ChildrenOfListsOnlyTheUnfinishedTasksOfThatParent) {
  PendingTaskPtr a = NormalTask("a"), b = NormalTask("b"), other = NormalTask("other");
  a->spec.set_parent_task_id("parent-1");
  b->spec.set_parent_task_id("parent-1");
  other->spec.set_parent_task_id("parent-2");
  Submit(a);
  Submit(b);
  Submit(other);
  raylets_.Grant(0, "lease0", 7000);  // a goes to a worker; b and other wait in the queue
  std::vector<std::string> kids = submitter_.ChildrenOf("parent-1");
  std::sort(kids.begin(), kids.end());
  std::vector<std::string> want = {a->spec.task_id(), b->spec.task_id()};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(kids, want);
  rpc::Address worker;
  EXPECT_EQ(submitter_.Cancel(b->spec.task_id(), &worker), NormalTaskSubmitter::CancelFound::kDropped);
  EXPECT_EQ(submitter_.ChildrenOf("parent-1").size(), 1u);
  EXPECT_TRUE(submitter_.ChildrenOf("nobody").empty());
}

}  // namespace
}  // namespace polyray::core

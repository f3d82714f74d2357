// The C++ task event buffer (task_events.h) with a manual clock and a fake
// sender: the same cases as Python's tests/core/unit/test_task_events.py.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include <thread>
#include <chrono>

#include "core/task_events.h"
#include "core_submitter_fakes.h"

namespace polyray::core {
namespace {

const std::string kJob("\x01\x00\x00\x00", 4);

rpc::TaskSpec Spec(const std::string& name, int n) {
  rpc::TaskSpec s;
  s.set_task_id(std::string(20, static_cast<char>(n)) + kJob);
  s.set_job_id(kJob);
  s.set_name(name);
  s.set_language(rpc::CPP);
  return s;
}

struct Harness {
  fakes::ManualClock clock;
  std::vector<rpc::AddTaskEventsRequest> sent;
  std::vector<std::function<void(bool)>> pending;
  bool answer_inline = true;
  bool ok = true;
  std::shared_ptr<TaskEvents> events;

  explicit Harness(size_t max_buffered = 100, size_t max_per_batch = 3) {
    events = std::make_shared<TaskEvents>(
        clock,
        [this](rpc::AddTaskEventsRequest req, std::function<void(bool)> done) {
          sent.push_back(std::move(req));
          if (answer_inline) {
            done(ok);
          } else {
            pending.push_back(std::move(done));
          }
        },
        [this](const rpc::AddTaskEventsRequest& req) {
          sent.push_back(req);
          return ok;
        },
        [] { return std::string(28, 'n'); }, std::string(28, 'w'), max_buffered, max_per_batch, 1000);
  }
  int Events() const {
    int n = 0;
    for (const auto& r : sent) n += r.events_size();
    return n;
  }
};

TEST(TaskEvents, SentEveryIntervalInBatchesNotBefore) {
  Harness h;
  h.events->Start();
  for (int i = 0; i < 7; ++i) h.events->Record(rpc::SUBMITTED, Spec("f", i));
  h.clock.AdvanceMs(999);
  EXPECT_TRUE(h.sent.empty());
  h.clock.AdvanceMs(1);
  ASSERT_EQ(h.sent.size(), 3u);  // 3 + 3 + 1
  EXPECT_EQ(h.sent[0].events_size(), 3);
  EXPECT_EQ(h.sent[2].events_size(), 1);
  const rpc::TaskEvent& e = h.sent[0].events(0);
  EXPECT_EQ(e.state(), rpc::SUBMITTED);
  EXPECT_EQ(e.node_id(), std::string(28, 'n'));
  EXPECT_EQ(e.worker_id(), std::string(28, 'w'));
  EXPECT_GT(e.worker_pid(), 0);
  EXPECT_GT(e.timestamp_ns(), 0);
  h.clock.AdvanceMs(5000);
  EXPECT_EQ(h.sent.size(), 3u);  // idle: no empty calls
  h.events->Stop();
}

TEST(TaskEvents, FullBufferDropsAndCountsAndFailedSendsAreCounted) {
  Harness h(/*max_buffered=*/4, /*max_per_batch=*/100);
  h.events->Start();
  for (int i = 0; i < 10; ++i) h.events->Record(rpc::SUBMITTED, Spec("f", i));
  EXPECT_EQ(h.events->buffered(), 4u);
  EXPECT_EQ(h.events->dropped().at(kJob), 6);
  h.ok = false;
  h.clock.AdvanceMs(1000);
  EXPECT_EQ(h.events->dropped().at(kJob), 10);  // the unsent batch counts as dropped
  h.ok = true;
  h.events->Record(rpc::RUNNING, Spec("late", 11));
  h.clock.AdvanceMs(1000);
  const rpc::AddTaskEventsRequest& last = h.sent.back();
  ASSERT_EQ(last.events_size(), 1);
  ASSERT_EQ(last.dropped_size(), 1);
  EXPECT_EQ(last.dropped(0).count(), 10);
  h.events->Stop();
}

TEST(TaskEvents, EndStatesAndFlushAtStop) {
  Harness h(/*max_buffered=*/100, /*max_per_batch=*/100);
  rpc::TaskResult ok;
  ok.add_returns()->mutable_value()->set_format(rpc::FORMAT_XLANG);
  rpc::ErrorRecord rec;
  rec.set_kind(rpc::TASK_ERROR);
  rec.set_type_name("std::runtime_error");
  rec.set_message("boom");
  rpc::TaskResult bad;
  auto* v = bad.add_returns()->mutable_value();
  v->set_format(rpc::FORMAT_ERROR);
  v->set_body(rec.SerializeAsString());
  h.events->Record(rpc::RUNNING, Spec("ok", 1));
  h.events->Ended(Spec("ok", 1), ok);
  h.events->Ended(Spec("bad", 2), bad);
  rpc::ErrorRecord crash;
  crash.set_kind(rpc::WORKER_CRASHED);
  crash.set_message("exit 9");
  h.events->Failed(Spec("crashed", 3), crash);
  h.events->Stop();  // never started: Stop still sends what is buffered
  ASSERT_EQ(h.Events(), 4);
  ASSERT_EQ(h.sent.size(), 1u);
  const auto& r = h.sent.back();
  EXPECT_EQ(r.events(1).state(), rpc::FINISHED);
  EXPECT_EQ(r.events(2).state(), rpc::FAILED);
  EXPECT_EQ(r.events(2).error_kind(), rpc::TASK_ERROR);
  EXPECT_EQ(r.events(2).error_message(), "std::runtime_error: boom");
  EXPECT_EQ(r.events(3).error_kind(), rpc::WORKER_CRASHED);
  h.events->Record(rpc::RUNNING, Spec("after", 4));
  h.clock.AdvanceMs(5000);
  EXPECT_EQ(h.Events(), 4);  // stopped: nothing more is sent
}

TEST(TaskEvents, TwoEventsOfOneReporterFoldIntoOneUntilSent) {
  Harness h(/*max_buffered=*/100, /*max_per_batch=*/100);
  rpc::TaskResult ok;
  ok.add_returns()->mutable_value()->set_format(rpc::FORMAT_XLANG);
  rpc::ErrorRecord rec;
  rec.set_kind(rpc::TASK_ERROR);
  rec.set_message("boom");
  rpc::TaskResult bad;
  auto* v = bad.add_returns()->mutable_value();
  v->set_format(rpc::FORMAT_ERROR);
  v->set_body(rec.SerializeAsString());
  // Owner: PENDING_NODE with SUBMITTED folded in.
  h.events->Queued(Spec("f", 1), 1234);
  // Worker: the end state folds into RUNNING while it is not sent.
  TaskEvents::Token g = h.events->Running(Spec("g", 2));
  h.events->Ended(Spec("g", 2), ok, g);
  TaskEvents::Token b = h.events->Running(Spec("b", 3));
  h.events->Ended(Spec("b", 3), bad, b);
  TaskEvents::Token k = h.events->Running(Spec("k", 4));
  h.events->Flush();
  ASSERT_EQ(h.Events(), 4);
  // Taken by the flush: the end is an event of its own, and a stale token folds nothing.
  h.events->Ended(Spec("k", 4), ok, k);
  h.events->Ended(Spec("g", 2), ok, g);
  h.events->Flush();
  ASSERT_EQ(h.Events(), 6);
  std::vector<rpc::TaskEvent> all;
  for (const auto& r : h.sent) all.insert(all.end(), r.events().begin(), r.events().end());
  EXPECT_EQ(all[0].state(), rpc::PENDING_NODE);
  EXPECT_EQ(all[0].prior_state(), rpc::SUBMITTED);
  EXPECT_EQ(all[0].prior_timestamp_ns(), 1234);
  EXPECT_EQ(all[1].state(), rpc::FINISHED);
  EXPECT_EQ(all[1].prior_state(), rpc::RUNNING);
  EXPECT_LE(all[1].prior_timestamp_ns(), all[1].timestamp_ns());
  EXPECT_EQ(all[2].state(), rpc::FAILED);
  EXPECT_EQ(all[2].prior_state(), rpc::RUNNING);
  EXPECT_EQ(all[2].error_message(), "boom");
  EXPECT_EQ(all[3].state(), rpc::RUNNING);
  EXPECT_EQ(all[3].prior_state(), rpc::TASK_STATE_UNKNOWN);
  EXPECT_EQ(all[4].state(), rpc::FINISHED);
  EXPECT_EQ(all[4].prior_state(), rpc::TASK_STATE_UNKNOWN);
  EXPECT_EQ(all[5].task_id(), Spec("g", 2).task_id());
  EXPECT_EQ(all[5].prior_state(), rpc::TASK_STATE_UNKNOWN);
}

TEST(TaskEvents, AWorkersEventCarriesTheOwnersTimesFromTheSpec) {
  // A Python owner writes its times into the spec and reports no event of a task that runs:
  // the worker's one event (RUNNING folded into FINISHED) carries them to the GCS.
  Harness h(/*max_buffered=*/100, /*max_per_batch=*/100);
  rpc::TaskResult ok;
  ok.add_returns()->mutable_value()->set_format(rpc::FORMAT_XLANG);
  rpc::TaskSpec spec = Spec("f", 5);
  spec.set_submitted_ns(111);
  spec.set_pending_args_ns(222);
  spec.set_pending_node_ns(333);
  TaskEvents::Token t = h.events->Running(spec);
  h.events->Ended(spec, ok, t);
  TaskEvents::Token u = h.events->Running(Spec("g", 6));  // no owner times: zeros
  h.events->Ended(Spec("g", 6), ok, u);
  h.events->Flush();
  ASSERT_EQ(h.Events(), 2);
  const rpc::TaskEvent& e = h.sent[0].events(0);
  EXPECT_EQ(e.state(), rpc::FINISHED);
  EXPECT_EQ(e.prior_state(), rpc::RUNNING);
  EXPECT_EQ(e.submitted_ns(), 111);
  EXPECT_EQ(e.pending_args_ns(), 222);
  EXPECT_EQ(e.pending_node_ns(), 333);
  EXPECT_EQ(h.sent[0].events(1).submitted_ns(), 0);
}

TEST(TaskEvents, StopWaitsForASendInFlightThenSendsWhatCameAfter) {
  Harness h(/*max_buffered=*/100, /*max_per_batch=*/100);
  h.answer_inline = false;
  h.events->Record(rpc::RUNNING, Spec("early", 1));
  h.events->Flush();  // in flight, unanswered
  ASSERT_EQ(h.pending.size(), 1u);
  h.events->Record(rpc::FINISHED, Spec("late", 2));
  std::function<void(bool)> answer = h.pending[0];
  std::thread gcs([answer] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    answer(true);
  });
  auto t0 = std::chrono::steady_clock::now();
  h.events->Stop();
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  gcs.join();
  // Stop waited for the answer, then sent the event recorded after the first batch.
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_EQ(h.sent[1].events(0).name(), "late");
  EXPECT_GE(waited.count(), 100);
  EXPECT_LT(waited.count(), TaskEvents::kStopWaitMs);
  EXPECT_EQ(h.events->sent(), 2);
}

}  // namespace
}  // namespace polyray::core

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
#include <cstdlib>
#include <fstream>

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

// A batch's events as TaskEvents: the TaskEvents first, then each 76-byte packed full record
// read by hand from the format gcs.proto gives (little-endian: task id, head index, attempt,
// state, prior state, 2 zero bytes, time, prior time, submitted, pending args, pending node),
// with its head's fields.
std::vector<rpc::TaskEvent> Unpacked(const rpc::AddTaskEventsRequest& req) {
  std::vector<rpc::TaskEvent> out(req.events().begin(), req.events().end());
  const std::string& blob = req.packed().full_records();
  EXPECT_EQ(blob.size() % 76, 0u);
  EXPECT_TRUE(req.packed().records().empty());
  auto le = [&](size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(blob[at + static_cast<size_t>(i)]);
    return v;
  };
  for (size_t at = 0; at + 76 <= blob.size(); at += 76) {
    uint32_t head = static_cast<uint32_t>(le(at + 24, 4));
    EXPECT_LT(head, static_cast<uint32_t>(req.packed().heads_size()));
    EXPECT_EQ(blob[at + 34], 0);
    EXPECT_EQ(blob[at + 35], 0);
    rpc::TaskEvent e = req.packed().heads(static_cast<int>(head));
    e.set_task_id(blob.substr(at, 24));
    e.set_attempt(static_cast<int32_t>(le(at + 28, 4)));
    e.set_state(static_cast<rpc::TaskEventState>(blob[at + 32]));
    e.set_prior_state(static_cast<rpc::TaskEventState>(blob[at + 33]));
    e.set_timestamp_ns(static_cast<int64_t>(le(at + 36, 8)));
    e.set_prior_timestamp_ns(static_cast<int64_t>(le(at + 44, 8)));
    e.set_submitted_ns(static_cast<int64_t>(le(at + 52, 8)));
    e.set_pending_args_ns(static_cast<int64_t>(le(at + 60, 8)));
    e.set_pending_node_ns(static_cast<int64_t>(le(at + 68, 8)));
    out.push_back(std::move(e));
  }
  return out;
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
  int Events() const { return static_cast<int>(All().size()); }
  std::vector<rpc::TaskEvent> All() const {
    std::vector<rpc::TaskEvent> all;
    for (const auto& r : sent) {
      std::vector<rpc::TaskEvent> some = Unpacked(r);
      all.insert(all.end(), some.begin(), some.end());
    }
    return all;
  }
  // The events of `name` sent so far, in order.
  std::vector<rpc::TaskEvent> Of(const std::string& name) const {
    std::vector<rpc::TaskEvent> got;
    for (const rpc::TaskEvent& e : All()) {
      if (e.name() == name) got.push_back(e);
    }
    return got;
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
  EXPECT_EQ(Unpacked(h.sent[0]).size(), 3u);
  EXPECT_EQ(h.sent[0].events_size(), 0);  // packed records, one head for the three
  EXPECT_EQ(h.sent[0].packed().heads_size(), 1);
  EXPECT_EQ(Unpacked(h.sent[2]).size(), 1u);
  const rpc::TaskEvent e = Unpacked(h.sent[0])[0];
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
  ASSERT_EQ(Unpacked(last).size(), 1u);
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
  EXPECT_EQ(h.Of("ok").size(), 2u);
  EXPECT_EQ(h.Of("ok")[1].state(), rpc::FINISHED);
  ASSERT_EQ(h.Of("bad").size(), 1u);
  EXPECT_EQ(h.Of("bad")[0].state(), rpc::FAILED);  // a TaskEvent: it carries its error
  EXPECT_EQ(h.Of("bad")[0].error_kind(), rpc::TASK_ERROR);
  EXPECT_EQ(h.Of("bad")[0].error_message(), "std::runtime_error: boom");
  EXPECT_EQ(h.Of("crashed")[0].error_kind(), rpc::WORKER_CRASHED);
  EXPECT_EQ(h.sent[0].events_size(), 2);  // the two FAILED; the rest packed
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
  // Owner's own event: PENDING_NODE with SUBMITTED folded in.
  h.events->Queued(Spec("f", 1), 1234);
  // Worker: FINISHED folds into the RUNNING record while it is not sent.
  TaskEvents::Token g = h.events->Running(Spec("g", 2));
  h.events->Ended(Spec("g", 2), ok, g);
  // FAILED carries an error: a TaskEvent of its own after the RUNNING record.
  TaskEvents::Token b = h.events->Running(Spec("b", 3));
  h.events->Ended(Spec("b", 3), bad, b);
  TaskEvents::Token k = h.events->Running(Spec("k", 4));
  h.events->Flush();
  ASSERT_EQ(h.Events(), 5);
  auto f = h.Of("f");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].state(), rpc::PENDING_NODE);
  EXPECT_EQ(f[0].prior_state(), rpc::SUBMITTED);
  EXPECT_EQ(f[0].prior_timestamp_ns(), 1234);
  // Taken by the flush: the end is an event of its own, and a stale token folds nothing.
  h.events->Ended(Spec("k", 4), ok, k);
  h.events->Ended(Spec("g", 2), ok, g);
  h.events->Flush();
  ASSERT_EQ(h.Events(), 7);
  auto g_events = h.Of("g");
  ASSERT_EQ(g_events.size(), 2u);
  EXPECT_EQ(g_events[0].state(), rpc::FINISHED);
  EXPECT_EQ(g_events[0].prior_state(), rpc::RUNNING);
  EXPECT_LE(g_events[0].prior_timestamp_ns(), g_events[0].timestamp_ns());
  EXPECT_GT(g_events[0].prior_timestamp_ns(), 0);
  EXPECT_EQ(g_events[1].state(), rpc::FINISHED);
  EXPECT_EQ(g_events[1].prior_state(), rpc::TASK_STATE_UNKNOWN);
  auto b_events = h.Of("b");
  ASSERT_EQ(b_events.size(), 2u);
  EXPECT_EQ(b_events[0].state(), rpc::FAILED);
  EXPECT_EQ(b_events[0].error_message(), "boom");
  EXPECT_EQ(b_events[1].state(), rpc::RUNNING);
  auto k_events = h.Of("k");
  ASSERT_EQ(k_events.size(), 2u);
  EXPECT_EQ(k_events[0].state(), rpc::RUNNING);
  EXPECT_EQ(k_events[0].prior_state(), rpc::TASK_STATE_UNKNOWN);
  EXPECT_EQ(k_events[1].state(), rpc::FINISHED);
  EXPECT_EQ(k_events[1].prior_state(), rpc::TASK_STATE_UNKNOWN);
}

TEST(TaskEvents, AnOwnersTaskCostsNoEventUnlessItWaitsAWholeInterval) {
  Harness h(/*max_buffered=*/100, /*max_per_batch=*/100);
  h.events->Start();
  rpc::TaskSpec fast = Spec("fast", 1);
  h.events->OwnerQueued(fast, 1234);
  EXPECT_EQ(fast.submitted_ns(), 1234);  // the owner's times go with the spec it pushes
  EXPECT_GE(fast.pending_node_ns(), 1234);
  EXPECT_EQ(h.events->pending(), 1u);
  h.events->OwnerDone(fast.task_id());  // its result came back: the worker's event gives the row
  EXPECT_EQ(h.events->pending(), 0u);
  rpc::TaskSpec slow = Spec("slow", 2);
  h.events->OwnerQueued(slow, 5678);
  h.clock.AdvanceMs(1000);  // queued since the last flush: not yet
  EXPECT_EQ(h.Events(), 0);
  EXPECT_EQ(h.events->buffered(), 0u);
  h.clock.AdvanceMs(1000);  // waited a whole interval: PENDING_NODE, once, with its times
  auto got = h.Of("slow");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].state(), rpc::PENDING_NODE);
  EXPECT_EQ(got[0].submitted_ns(), 5678);
  EXPECT_EQ(got[0].pending_node_ns(), slow.pending_node_ns());
  EXPECT_EQ(got[0].timestamp_ns(), slow.pending_node_ns());
  h.clock.AdvanceMs(3000);
  EXPECT_EQ(h.Of("slow").size(), 1u);
  EXPECT_EQ(h.Of("fast").size(), 0u);
  // Stop reports what still waits (the process leaves).
  rpc::TaskSpec last = Spec("last", 3);
  h.events->OwnerQueued(last, 9);
  h.events->Stop();
  ASSERT_EQ(h.Of("last").size(), 1u);
  EXPECT_EQ(h.Of("last")[0].state(), rpc::PENDING_NODE);
}

TEST(TaskEvents, HeadsAreSentPerBatchAndAFullTableIsCompacted) {
  Harness h(/*max_buffered=*/100000, /*max_per_batch=*/10000);
  // More kinds than the table holds: the ones past it go as TaskEvents, nothing is lost.
  size_t n = TaskEvents::kMaxHeads + 10;
  for (size_t i = 0; i < n; ++i) h.events->Record(rpc::SUBMITTED, Spec("f" + std::to_string(i), 1));
  h.events->Flush();
  ASSERT_EQ(h.sent.size(), 1u);
  EXPECT_EQ(h.sent[0].packed().heads_size(), static_cast<int>(TaskEvents::kMaxHeads));
  EXPECT_EQ(h.sent[0].events_size(), 10);
  EXPECT_EQ(h.Of("f4100").size(), 1u);
  // The table was compacted at the send (nothing buffered names a kind): new kinds pack again,
  // and a batch names only the heads its records use.
  h.events->Record(rpc::SUBMITTED, Spec("new", 2));
  h.events->Record(rpc::SUBMITTED, Spec("f3", 2));
  h.events->Flush();
  ASSERT_EQ(h.sent.size(), 2u);
  EXPECT_EQ(h.sent[1].events_size(), 0);
  EXPECT_EQ(h.sent[1].packed().heads_size(), 2);
  EXPECT_EQ(h.Of("new").size(), 1u);
  EXPECT_EQ(h.Of("f3").size(), 2u);
  EXPECT_EQ(h.events->sent(), static_cast<int64_t>(n + 2));
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
  const rpc::TaskEvent e = h.Of("f")[0];
  EXPECT_EQ(e.state(), rpc::FINISHED);
  EXPECT_EQ(e.prior_state(), rpc::RUNNING);
  EXPECT_EQ(e.submitted_ns(), 111);
  EXPECT_EQ(e.pending_args_ns(), 222);
  EXPECT_EQ(e.pending_node_ns(), 333);
  EXPECT_EQ(h.Of("g")[0].submitted_ns(), 0);
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
  EXPECT_EQ(Unpacked(h.sent[1])[0].name(), "late");
  EXPECT_GE(waited.count(), 100);
  EXPECT_LT(waited.count(), TaskEvents::kStopWaitMs);
  EXPECT_EQ(h.events->sent(), 2);
}

TEST(TaskEvents, WritesABatchForThePythonCrossCheck) {
  // tests/gcs/test_task_events_xlang_bytes.py runs this test with POLYRAY_TASK_EVENTS_DUMP set
  // and folds the bytes written there with the GCS's reader: the rows must be these events.
  Harness h(/*max_buffered=*/100, /*max_per_batch=*/100);
  rpc::TaskResult ok;
  ok.add_returns()->mutable_value()->set_format(rpc::FORMAT_XLANG);
  rpc::TaskSpec a = Spec("Plus1", 1);
  a.set_submitted_ns(1000);
  a.set_pending_node_ns(2000);
  a.set_attempt(2);
  a.set_actor_id(std::string(16, 'a'));
  a.set_type(rpc::ACTOR_TASK);
  TaskEvents::Token t = h.events->Running(a);
  h.events->Ended(a, ok, t);
  rpc::TaskSpec b = Spec("Slow", 2);
  b.set_parent_task_id(std::string(24, 'p'));
  h.events->Running(b);
  rpc::ErrorRecord rec;
  rec.set_kind(rpc::TASK_ERROR);
  rec.set_message("boom");
  h.events->Failed(Spec("Bad", 3), rec);
  h.events->Flush();
  ASSERT_EQ(h.sent.size(), 1u);
  ASSERT_EQ(h.Events(), 3);
  const char* path = std::getenv("POLYRAY_TASK_EVENTS_DUMP");
  if (path != nullptr) {
    std::ofstream out(path, std::ios::binary);
    out << h.sent[0].SerializeAsString();
    ASSERT_TRUE(out.good());
  }
}

}  // namespace
}  // namespace polyray::core

// The lineage table (core/lineage.h) and ObjectRecovery (core/object_recovery.h)
// with fakes: a map of argument pins stands for the reference counter, a set
// of object ids with a live copy for the nodes' stores, a vector for the task
// submitter; the recovery's executor runs jobs at once. Checked: the bound and
// oldest-first eviction, argument pins kept while the lineage is and released
// exactly once, merged reconstructions as attempt + 1 against max_retries,
// lost owned arguments recomputed first, and the reasons of what cannot come
// back (put, retries exhausted, lineage evicted, a failed re-run).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <set>
#include <thread>

#include "core/ids.h"
#include "core/lineage.h"
#include "core/memory_store.h"
#include "core/object_recovery.h"
#include "polyray/exceptions.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {
namespace {

const std::string kNode(28, '\0');

class LineageTest : public ::testing::Test {
 protected:
  std::map<std::string, int> pins;
  std::set<std::string> owned;
  std::set<std::string> copies;
  /// Copies pulled to other nodes: oid -> nodes known to the owner, and the
  /// (oid + node) pairs whose store still holds one.
  std::map<std::string, std::vector<std::string>> pulled_to;
  std::set<std::string> alive_at;
  std::vector<std::string> probed;
  std::mutex submitted_mu;
  std::vector<PendingTaskPtr> submitted;
  MemoryStore store;
  int counter = 0;

  Lineage::Release Releaser() {
    return [this](const std::vector<std::string>& ids) {
      for (const auto& id : ids) pins[id]--;
    };
  }
  void Pin(const std::vector<std::string>& ids) {
    for (const auto& id : ids) pins[id]++;
  }
  std::string TaskId() {
    std::string t(24, '\0');
    t[0] = static_cast<char>(++counter);
    return t;
  }
  rpc::TaskSpec Spec(int max_retries, size_t padding) {
    rpc::TaskSpec s;
    s.set_task_id(TaskId());
    s.set_type(rpc::NORMAL_TASK);
    s.set_num_returns(1);
    s.set_max_retries(max_retries);
    s.set_name("f" + std::string(padding, 'x'));
    return s;
  }
  std::unique_ptr<ObjectRecovery> Recovery(Lineage& lineage) {
    return std::make_unique<ObjectRecovery>(ObjectRecovery::Deps{
        lineage, store, [this](const std::string& oid) { return owned.count(oid) > 0; },
        [this](const std::vector<std::string>& ids) { Pin(ids); },
        [this](PendingTaskPtr t) {
          std::lock_guard<std::mutex> lock(submitted_mu);
          submitted.push_back(std::move(t));
        },
        [this](const std::string& oid, const std::string& node) {
          probed.push_back(node);
          return copies.count(oid) > 0 || alive_at.count(oid + node) > 0;
        },
        [this](const std::string& oid) { return pulled_to[oid]; }, [](std::function<void()> job) { job(); }});
  }
  /// A task finished with its return in a store, recorded as the owner does.
  std::string Complete(Lineage& lineage, const rpc::TaskSpec& s, const std::vector<std::string>& args) {
    Pin(args);
    std::string r = ReturnId(s.task_id(), 1);
    owned.insert(r);
    store.Set(r, StoreEntry(kNode, 1 << 20));
    lineage.Record(s, args, {r});
    return r;
  }
  rpc::ErrorRecord ErrorOf(const std::string& oid) {
    EntryPtr e = store.GetIfReady(oid);
    EXPECT_TRUE(e && e->is_error());
    rpc::ErrorRecord r;
    if (e && e->envelope) r.ParseFromString(e->envelope->body());
    return r;
  }
};

TEST_F(LineageTest, BoundEvictsOldestFirstAndReleasesItsArguments) {
  Lineage lineage(1000, Releaser());
  std::string a(28, 'a'), b(28, 'b');
  std::string r1 = Complete(lineage, Spec(3, 300), {a});
  std::string r2 = Complete(lineage, Spec(3, 300), {b});
  EXPECT_EQ(lineage.size(), 2u);
  EXPECT_EQ(pins[a], 1);
  std::string r3 = Complete(lineage, Spec(3, 300), {});
  EXPECT_LE(lineage.bytes_used(), 1000);
  EXPECT_FALSE(lineage.OfObject(r1));
  EXPECT_TRUE(lineage.WasEvicted(r1));
  EXPECT_TRUE(lineage.OfObject(r2));
  EXPECT_TRUE(lineage.OfObject(r3));
  EXPECT_EQ(pins[a], 0);
  EXPECT_EQ(pins[b], 1);
  EXPECT_EQ(lineage.evictions(), 1);
  Lineage none(0, Releaser());
  Complete(none, Spec(3, 0), {b});
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(pins[b], 1);
}

TEST_F(LineageTest, ArgumentsStayPinnedUntilTheLastReturnIsFreed) {
  Lineage lineage(1 << 20, Releaser());
  std::string arg(28, 'c');
  rpc::TaskSpec s = Spec(1, 0);
  s.set_num_returns(2);
  std::string r1 = ReturnId(s.task_id(), 1), r2 = ReturnId(s.task_id(), 2);
  Pin({arg});
  lineage.Record(s, {arg}, {r1, r2});
  lineage.OnFree(r1);
  EXPECT_EQ(pins[arg], 1);
  EXPECT_TRUE(lineage.OfObject(r2));
  lineage.OnFree(r2);
  EXPECT_EQ(pins[arg], 0);
  EXPECT_EQ(lineage.size(), 0u);
  EXPECT_EQ(lineage.bytes_used(), 0);
  // A second record of the same task (a reconstruction) releases its new pins at once.
  Pin({arg});
  lineage.Record(s, {arg}, {r1});
  Pin({arg});
  rpc::TaskSpec again = s;
  again.set_attempt(1);
  lineage.Record(again, {arg}, {r1});
  EXPECT_EQ(pins[arg], 1);
  EXPECT_EQ(lineage.OfObject(r1)->spec.attempt(), 1);
}

TEST_F(LineageTest, RecoveryResubmitsOnceAsTheNextAttemptAndMerges) {
  Lineage lineage(1 << 20, Releaser());
  auto rec = Recovery(lineage);
  rpc::TaskSpec s = Spec(2, 0);
  std::string r = Complete(lineage, s, {});
  rec->Recover(r, store.GetIfReady(r));
  rec->Recover(r, nullptr);  // a second Get finding the loss at the same time: merged
  ASSERT_EQ(submitted.size(), 1u);
  EXPECT_EQ(submitted[0]->spec.attempt(), 1);
  EXPECT_FALSE(store.GetIfReady(r)) << "the lost entry is reset so Gets wait for the new value";
  EXPECT_FALSE(rec->OnFinished(submitted[0]->spec, nullptr));
  lineage.Record(submitted[0]->spec, {}, {r});
  store.Set(r, StoreEntry(kNode, 1));
  rec->Recover(r, store.GetIfReady(r));
  ASSERT_EQ(submitted.size(), 2u);
  EXPECT_EQ(submitted[1]->spec.attempt(), 2);
  rec->OnFinished(submitted[1]->spec, nullptr);
  lineage.Record(submitted[1]->spec, {}, {r});
  store.Set(r, StoreEntry(kNode, 1));
  rec->Recover(r, store.GetIfReady(r));  // max_retries=2 used
  EXPECT_EQ(submitted.size(), 2u);
  rpc::ErrorRecord err = ErrorOf(r);
  EXPECT_EQ(err.kind(), rpc::OBJECT_LOST);
  EXPECT_EQ(err.reason(), rpc::REASON_RETRIES_EXHAUSTED);
}

TEST_F(LineageTest, LostOwnedArgumentsAreRecomputedFirst) {
  Lineage lineage(1 << 20, Releaser());
  auto rec = Recovery(lineage);
  rpc::TaskSpec producer = Spec(1, 0);
  std::string arg = Complete(lineage, producer, {});
  rpc::TaskSpec consumer = Spec(1, 0);
  std::string r = Complete(lineage, consumer, {arg});
  // Both copies gone; the argument's re-run is completed by another thread as the submitter would.
  std::thread finisher([&] {
    for (int i = 0; i < 10000; ++i) {
      {
        std::lock_guard<std::mutex> lock(submitted_mu);
        if (!submitted.empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    store.Set(arg, StoreEntry(kNode, 1));
  });
  rec->Recover(r, store.GetIfReady(r));
  finisher.join();
  ASSERT_EQ(submitted.size(), 2u);
  EXPECT_EQ(submitted[0]->spec.task_id(), producer.task_id());
  EXPECT_EQ(submitted[1]->spec.task_id(), consumer.task_id());
  EXPECT_EQ(submitted[1]->arg_ids, std::vector<std::string>{arg});
  EXPECT_EQ(pins[arg], 2) << "pinned by the lineage and by the resubmitted task";
}

TEST_F(LineageTest, EveryKnownCopyIsProbedBeforeARecomputation) {
  Lineage lineage(1 << 20, Releaser());
  auto rec = Recovery(lineage);
  const std::string b(28, 'B'), c(28, 'C');
  std::string arg = Complete(lineage, Spec(1, 0), {});
  pulled_to[arg] = {b, c};  // the primary (kNode) died; copies were pulled to B and C
  alive_at.insert(arg + c);
  EXPECT_TRUE(rec->AnyCopy(arg, store.GetIfReady(arg)));
  EXPECT_EQ(probed, (std::vector<std::string>{kNode, b, c})) << "the primary first, then the pulled copies";
  // The consumer's return is lost; its argument survives on C: only the consumer is re-run.
  rpc::TaskSpec consumer = Spec(1, 0);
  std::string r = Complete(lineage, consumer, {arg});
  rec->Recover(r, store.GetIfReady(r));
  ASSERT_EQ(submitted.size(), 1u);
  EXPECT_EQ(submitted[0]->spec.task_id(), consumer.task_id());
  // With no copy left anywhere the argument is recomputed too.
  alive_at.clear();
  probed.clear();
  EXPECT_FALSE(rec->AnyCopy(arg, store.GetIfReady(arg)));
  EXPECT_EQ(probed.size(), 3u);
}

TEST_F(LineageTest, AnswersToLostRunOnABoundedPool) {
  Lineage lineage(1 << 20, Releaser());
  ObjectRecovery rec(ObjectRecovery::Deps{
      lineage, store, [](const std::string&) { return false; }, [](const std::vector<std::string>&) {},
      [](PendingTaskPtr) {}, [](const std::string&, const std::string&) { return false; }, {}, {}});
  std::mutex mu;
  std::condition_variable cv;
  int running = 0, most = 0, finished = 0;
  bool release = false;
  const int jobs = 20;
  for (int i = 0; i < jobs; ++i) {
    rec.PostAnswer([&] {
      std::unique_lock<std::mutex> lock(mu);
      most = std::max(most, ++running);
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      --running;
      ++finished;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return running == ObjectRecovery::kAnswerThreads; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // no fifth thread shows up meanwhile
    EXPECT_EQ(running, ObjectRecovery::kAnswerThreads);
    release = true;
    cv.notify_all();
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return finished == jobs; }));
  }
  EXPECT_EQ(most, ObjectRecovery::kAnswerThreads) << "answers to lost are bounded";
  // Answers still queued at Stop, and posted after it, are dropped: their calls end.
  std::atomic<int> dropped{0};
  {
    std::unique_lock<std::mutex> lock(mu);
    release = false;
  }
  for (int i = 0; i < ObjectRecovery::kAnswerThreads + 3; ++i) {
    rec.PostAnswer([&] {
      std::unique_lock<std::mutex> lock(mu);
      ++running;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      --running;
    }, [&] { ++dropped; });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return running == ObjectRecovery::kAnswerThreads; }));
  }
  // Stop drops the queued ones (before it joins the running ones), then waits for those.
  std::thread stopper([&] { rec.Stop(); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (dropped.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(dropped.load(), 3) << "the 3 queued at Stop";
  {
    std::unique_lock<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  stopper.join();
  rec.PostAnswer([] {}, [&] { ++dropped; });
  EXPECT_EQ(dropped.load(), 4) << "and 1 posted after Stop";
}

TEST_F(LineageTest, ReasonsForWhatCannotComeBack) {
  Lineage lineage(400, Releaser());
  auto rec = Recovery(lineage);
  std::string put = ReturnId(TaskId(), static_cast<int>(0x80000001u));
  ASSERT_TRUE(IsPutId(put));
  owned.insert(put);
  store.Set(put, StoreEntry(kNode, 1));
  rec->Recover(put, store.GetIfReady(put));
  EXPECT_EQ(ErrorOf(put).reason(), rpc::REASON_PUT);
  std::string once = Complete(lineage, Spec(0, 0), {});
  rec->Recover(once, store.GetIfReady(once));
  EXPECT_EQ(ErrorOf(once).reason(), rpc::REASON_RETRIES_EXHAUSTED);
  std::string old = Complete(lineage, Spec(3, 200), {});
  Complete(lineage, Spec(3, 200), {});
  ASSERT_TRUE(lineage.WasEvicted(old));
  rec->Recover(old, store.GetIfReady(old));
  EXPECT_EQ(ErrorOf(old).reason(), rpc::REASON_LINEAGE_EVICTED);
  EXPECT_TRUE(submitted.empty());
  // A re-run that fails with a system error: RETRIES_EXHAUSTED caused by it;
  // an application error of the re-run is the value.
  rpc::TaskSpec s = Spec(1, 0);
  lineage.BeginRecovery(s.task_id());
  rpc::ErrorRecord crash;
  crash.set_kind(rpc::WORKER_CRASHED);
  auto lost = rec->OnFinished(s, &crash);
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->reason(), rpc::REASON_RETRIES_EXHAUSTED);
  EXPECT_EQ(lost->cause().kind(), rpc::WORKER_CRASHED);
  EXPECT_FALSE(lineage.Recovering(s.task_id()));
  lineage.BeginRecovery(s.task_id());
  crash.set_kind(rpc::TASK_ERROR);
  EXPECT_FALSE(rec->OnFinished(s, &crash));
}

TEST_F(LineageTest, ErrorsCarryTheirReason) {
  rpc::ErrorRecord r = ObjectRecovery::LostRecord(rpc::REASON_LINEAGE_EVICTED, "gone");
  std::string bytes;
  r.SerializeToString(&bytes);
  try {
    internal::ThrowErrorRecord(bytes);
    FAIL() << "no throw";
  } catch (const ObjectLostError& e) {
    EXPECT_EQ(e.reason(), "REASON_LINEAGE_EVICTED");
  }
  EXPECT_EQ(OwnerDiedError("x").reason(), "REASON_OWNER_DIED");
}

TEST_F(LineageTest, BoundComesFromTheEnvironmentOrTheSpec) {
  unsetenv(kLineageMaxBytesEnv);
  EXPECT_EQ(LineageMaxBytes(-1), spec::kLineageMaxBytes);
  EXPECT_EQ(LineageMaxBytes(5), 5);
  setenv(kLineageMaxBytesEnv, "7", 1);
  EXPECT_EQ(LineageMaxBytes(5), 7);
  setenv(kLineageMaxBytesEnv, "-1", 1);
  EXPECT_THROW(LineageMaxBytes(5), std::invalid_argument);
  unsetenv(kLineageMaxBytesEnv);
}

}  // namespace
}  // namespace polyray::core

// EarlyReads (issue 14; docs/ownership.md, "Early reads"): the copy of plain
// values read early from the node's store, and the decision that returns a
// copy only for an object its owner answered as stored. A fake reader stands
// in for the store: it counts the pins it hands out and sees them released.
#include "core/early_reads.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/common.h"
#include "core/memory_store.h"

namespace polyray::core {
namespace {

using internal::ValueView;

/// A fake store: per id, a value (format, body, buffers); views pin `pins`.
struct FakeStore {
  struct Obj {
    Format format = Format::kXlang;
    std::string body;
    std::vector<std::string> buffers;
  };
  std::unordered_map<std::string, Obj> objects;
  std::shared_ptr<int> pin = std::make_shared<int>(0);  // use_count - 1: pins held
  std::vector<size_t> calls;                            // ids per call
  bool fail = false;

  EarlyReads::Reader Reader() {
    return [this](const std::vector<std::string>& ids) {
      if (fail) throw std::runtime_error("no store");
      calls.push_back(ids.size());
      std::vector<std::optional<ValueView>> out(ids.size());
      for (size_t i = 0; i < ids.size(); ++i) {
        auto it = objects.find(ids[i]);
        if (it == objects.end()) continue;
        ValueView v;
        v.format = it->second.format;
        v.body = it->second.body;
        for (const std::string& b : it->second.buffers) v.buffers.emplace_back(b);
        v.keepalive = pin;
        out[i] = v;
      }
      return out;
    };
  }
  long pins() const { return pin.use_count() - 1; }
};

EntryPtr Stored(const std::string& node = "node-1") {
  auto e = std::make_shared<ObjectEntry>();
  e->in_store_node = node;
  e->locations.push_back(node);
  e->owner = std::make_shared<const rpc::Address>();
  e->size = 100;
  return e;
}

std::vector<std::string> Ids(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("id-" + std::to_string(i));
  return out;
}

TEST(EarlyReads, WantedFromEightBorrowedIds) {
  EXPECT_FALSE(EarlyReads::Wanted(0));
  EXPECT_FALSE(EarlyReads::Wanted(EarlyReads::kMinRefs - 1));
  EXPECT_TRUE(EarlyReads::Wanted(EarlyReads::kMinRefs));
}

TEST(EarlyReads, CopiesPlainValuesAndReleasesEveryPin) {
  FakeStore store;
  for (int i = 0; i < 10; ++i) store.objects["id-" + std::to_string(i)] = {Format::kXlang, "body" + std::to_string(i), {}};
  EarlyReads early;
  EXPECT_EQ(early.Read(Ids(12), store.Reader()), 10u);  // two ids are not in the store
  EXPECT_EQ(store.pins(), 0) << "a pin outlived its copy";
  std::optional<ValueView> v = early.Take("id-3", Stored());
  ASSERT_TRUE(v);
  EXPECT_EQ(v->body, "body3");
  EXPECT_EQ(v->format, Format::kXlang);
  // A copy, not a view of the store: changing the store's bytes leaves it.
  store.objects["id-3"].body = "changed";
  EXPECT_EQ(v->body, "body3");
  EXPECT_NE(static_cast<const void*>(v->body.data()), static_cast<const void*>(store.objects["id-3"].body.data()));
  EXPECT_FALSE(early.Take("id-11", Stored())) << "not in the store: no copy";
}

TEST(EarlyReads, ValuesThatAreNotPlainAreNotCopied) {
  FakeStore store;
  store.objects["id-0"] = {Format::kXlang, "with buffers", {"ndarray bytes"}};
  store.objects["id-1"] = {Format::kPython, "pickle", {}};
  store.objects["id-2"] = {Format::kRaw, "raw", {}};
  store.objects["id-3"] = {Format::kError, "error", {}};
  store.objects["id-4"] = {Format::kXlang, "plain", {}};
  EarlyReads early;
  EXPECT_EQ(early.Read(Ids(5), store.Reader()), 1u);
  EXPECT_EQ(store.pins(), 0);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(early.Take("id-" + std::to_string(i), Stored())) << i;
  EXPECT_TRUE(early.Take("id-4", Stored()));
}

TEST(EarlyReads, ACopyIsReturnedOnlyForAStoredAnswer) {
  FakeStore store;
  for (int i = 0; i < 5; ++i) store.objects["id-" + std::to_string(i)] = {Format::kXlang, "v", {}};
  EarlyReads early;
  early.Read(Ids(5), store.Reader());
  // No answer yet (the owner is stopped): nothing.
  EXPECT_FALSE(early.Take("id-0", nullptr));
  // The owner died / the object is lost / the owner does not know it: errors.
  rpc::ErrorRecord died = SystemError(rpc::OWNER_DIED, "the owner died");
  EXPECT_FALSE(early.Take("id-1", ErrorEntry(died)));
  EXPECT_FALSE(early.Take("id-2", ErrorEntry(SystemError(rpc::OBJECT_LOST, "lost"))));
  // An inline answer is its own value.
  rpc::Envelope inline_value;
  EXPECT_FALSE(early.Take("id-3", InlineEntry(inline_value, 1)));
  // An owned entry (no owner) is not an owner's answer.
  auto owned = std::make_shared<ObjectEntry>();
  owned->in_store_node = "node-1";
  EXPECT_FALSE(early.Take("id-4", owned));
  // Stored on another node: the copy here is its value (objects never change).
  EXPECT_TRUE(early.Take("id-4", Stored("node-2")));
}

TEST(EarlyReads, ACopyIsTakenOnceAndKeepsTheAnswerAlive) {
  FakeStore store;
  store.objects["id-0"] = {Format::kXlang, "v0", {}};
  EarlyReads early;
  early.Read({"id-0"}, store.Reader());
  EntryPtr answer = Stored();
  std::weak_ptr<const ObjectEntry> weak = answer;
  std::optional<ValueView> v = early.Take("id-0", answer);
  ASSERT_TRUE(v);
  EXPECT_FALSE(early.Take("id-0", answer)) << "a ref listed twice must get a second, separate read";
  EXPECT_EQ(early.size(), 0u);
  answer.reset();
  EXPECT_FALSE(weak.expired()) << "the copy must hold the answer's entry (its nested refs)";
  std::string_view body = v->body;
  v.reset();
  EXPECT_TRUE(weak.expired());
  (void)body;
}

TEST(EarlyReads, ReadsInBatchesOf256AndStopsWhenTheStoreFails) {
  FakeStore store;
  EarlyReads early;
  EXPECT_EQ(early.Read(Ids(600), store.Reader()), 0u);
  EXPECT_EQ(store.calls, (std::vector<size_t>{256, 256, 88}));
  store.fail = true;
  store.objects["id-0"] = {Format::kXlang, "v", {}};
  EXPECT_EQ(early.Read(Ids(600), store.Reader()), 0u);  // no throw: read after the answers
}

}  // namespace
}  // namespace polyray::core

// Local reads: the decision, and OwnerWatch (the owners known dead) with a
// manual clock and a fake GCS, as Python's tests/core/unit/test_local_reads.py.
#include "core/owner_watch.h"
#include "core_submitter_fakes.h"

namespace polyray::core {
namespace {

TEST(LocalReads, OnlyARegisteredBorrowOfAnOwnerNotKnownDead) {
  EXPECT_TRUE(EarlyReads::LocalRead(true, false));
  EXPECT_FALSE(EarlyReads::LocalRead(false, false)) << "not registered: the owner may not keep it";
  EXPECT_FALSE(EarlyReads::LocalRead(true, true)) << "a dead owner's copy must not be returned";
  EXPECT_FALSE(EarlyReads::LocalRead(false, true));
}

TEST(LocalReads, TurnedOffByTheEnvironment) {
  ::unsetenv("POLYRAY_LOCAL_READS");
  EXPECT_TRUE(EarlyReads::LocalReadsEnabled());
  ::setenv("POLYRAY_LOCAL_READS", "0", 1);
  EXPECT_FALSE(EarlyReads::LocalReadsEnabled());
  ::setenv("POLYRAY_LOCAL_READS", "1", 1);
  EXPECT_TRUE(EarlyReads::LocalReadsEnabled());
  ::unsetenv("POLYRAY_LOCAL_READS");
}

/// Answers GetDeadWorkers from `dead`; calls wait in `pending` until Answer.
class DeadSet final : public DeadWorkersClient {
 public:
  void GetDeadWorkers(rpc::GetDeadWorkersRequest request, std::chrono::milliseconds, Callback done) override {
    std::vector<std::string> ids;
    for (const auto& w : request.workers()) ids.push_back(w.worker_id());
    asked.push_back(ids);
    pending.emplace_back(std::move(request), std::move(done));
  }
  void Answer(bool ok = true) {
    auto calls = std::move(pending);
    pending.clear();
    for (auto& [request, done] : calls) {
      rpc::GetDeadWorkersReply reply;
      for (const auto& w : request.workers()) {
        if (ok && dead.count(w.worker_id())) reply.add_dead_worker_ids(w.worker_id());
      }
      done(ok ? grpc::Status::OK : grpc::Status(grpc::StatusCode::UNAVAILABLE, "away"), reply);
    }
  }
  std::set<std::string> dead;
  std::vector<std::vector<std::string>> asked;
  std::vector<std::pair<rpc::GetDeadWorkersRequest, Callback>> pending;
};

rpc::Address Owner(const std::string& id) {
  rpc::Address a;
  a.set_worker_id(id);
  return a;
}

TEST(OwnerWatch, ADeathReportedByTheGcsIsKnownAfterOneRound) {
  fakes::ManualClock clock;
  auto gcs = std::make_shared<DeadSet>();
  auto watch = std::make_shared<OwnerWatch>(clock, gcs, 1000, 60'000);
  EXPECT_EQ(watch->calls(), 0) << "nothing watched: no call";
  watch->Note(Owner("a"));
  watch->Note(Owner("b"));
  gcs->dead.insert("b");
  EXPECT_FALSE(watch->IsDead("b"));
  clock.AdvanceMs(1000);
  ASSERT_EQ(gcs->asked.size(), 1u);
  EXPECT_EQ(gcs->asked[0].size(), 2u) << "one call names every watched owner";
  gcs->Answer();
  EXPECT_TRUE(watch->IsDead("b"));
  EXPECT_FALSE(watch->IsDead("a"));
  EXPECT_EQ(watch->watched(), 1u);
  watch->Stop();
}

TEST(OwnerWatch, AFailedCallChangesNothingAndIsAskedAgain) {
  fakes::ManualClock clock;
  auto gcs = std::make_shared<DeadSet>();
  auto watch = std::make_shared<OwnerWatch>(clock, gcs, 1000, 60'000);
  watch->Note(Owner("a"));
  gcs->dead.insert("a");
  clock.AdvanceMs(1000);
  gcs->Answer(false);
  EXPECT_FALSE(watch->IsDead("a"));
  clock.AdvanceMs(1000);
  gcs->Answer();
  EXPECT_TRUE(watch->IsDead("a"));
  EXPECT_EQ(watch->calls(), 2);
  watch->Stop();
}

TEST(OwnerWatch, UnavailableMarksDeadAndIdleOwnersStopThePoll) {
  fakes::ManualClock clock;
  auto gcs = std::make_shared<DeadSet>();
  auto watch = std::make_shared<OwnerWatch>(clock, gcs, 1000, 3000);
  watch->MarkDead("x");
  EXPECT_TRUE(watch->IsDead("x"));
  watch->Note(Owner("x"));
  EXPECT_EQ(watch->watched(), 0u) << "a known-dead owner is not watched";
  watch->Note(Owner("a"));
  for (int i = 0; i < 5; ++i) {
    clock.AdvanceMs(1000);
    gcs->Answer();
  }
  EXPECT_EQ(watch->watched(), 0u) << "not read from locally for idle_ms: no longer watched";
  int calls = watch->calls();
  EXPECT_LE(calls, 3);
  clock.AdvanceMs(5000);
  gcs->Answer();
  EXPECT_EQ(watch->calls(), calls) << "no owner watched: no more calls";
  watch->Note(Owner("a"));  // read again: watched again
  clock.AdvanceMs(1000);
  EXPECT_EQ(watch->calls(), calls + 1);
  gcs->Answer();
  watch->Stop();
  clock.AdvanceMs(1000);
  EXPECT_EQ(watch->calls(), calls + 1) << "stopped: nothing more asked";
}

}  // namespace
}  // namespace polyray::core

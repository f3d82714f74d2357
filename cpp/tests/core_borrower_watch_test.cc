// A dead borrower's borrows and the lends made to it are released
// (ReferenceCounter::DropBorrower, Holders; BorrowerWatch; docs/ownership.md,
// "The reference protocol", Deaths), the same cases as Python's
// tests/core/unit/test_borrower_death.py and Java's BorrowerWatchTest: a
// manual clock and a fake GCS that answers GetDeadWorkers from a set.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/borrower_watch.h"
#include "core/reference_counter.h"
#include "core_submitter_fakes.h"

namespace polyray::core {
namespace {

const std::string kSelf(28, 's');
const std::string kDead(28, 'd');
const std::string kAlive(28, 'a');
const std::string kCaller(28, 'c');
const std::string kNode(28, 'N');

rpc::Address Addr(const std::string& worker) {
  rpc::Address a;
  a.set_worker_id(worker);
  a.set_node_id(kNode);
  return a;
}

/// Answers from `dead`; calls wait in `pending` until Answer (never inline).
class FakeGcs final : public DeadWorkersClient {
 public:
  void GetDeadWorkers(rpc::GetDeadWorkersRequest request, std::chrono::milliseconds,
                      Callback done) override {
    std::vector<std::string> asked;
    for (const auto& w : request.workers()) asked.push_back(w.worker_id());
    this->asked.push_back(asked);
    pending.emplace_back(std::move(request), std::move(done));
  }
  void Answer(bool ok = true) {
    auto calls = std::move(pending);
    pending.clear();
    for (auto& [request, done] : calls) {
      rpc::GetDeadWorkersReply reply;
      if (ok) {
        for (const auto& w : request.workers()) {
          if (dead.count(w.worker_id())) reply.add_dead_worker_ids(w.worker_id());
        }
      }
      done(ok ? grpc::Status::OK : grpc::Status(grpc::StatusCode::UNAVAILABLE, "away"), reply);
    }
  }
  std::set<std::string> dead;
  std::vector<std::vector<std::string>> asked;
  std::vector<std::pair<rpc::GetDeadWorkersRequest, Callback>> pending;
};

class BorrowerWatchTest : public ::testing::Test {
 protected:
  BorrowerWatchTest() {
    ReferenceCounter::Listener l;
    l.free = [this](const std::string& oid, const std::vector<std::string>&) { freed.push_back(oid); };
    l.borrow_changed = [](const rpc::Address&, std::vector<std::string>, std::vector<std::string>) {};
    l.lent_received = [](const rpc::Address&, std::vector<std::string>, const std::string&) {};
    l.first_holder = [this] { watch->Start(); };
    rc = std::make_unique<ReferenceCounter>(std::move(l));
    gcs = std::make_shared<FakeGcs>();
    watch = std::make_shared<BorrowerWatch>(*rc, clock, gcs, kSelf, 1000);
  }
  ~BorrowerWatchTest() override { watch->Stop(); }
  /// One second passes and the GCS answers what was asked meanwhile.
  void Tick() {
    clock.AdvanceMs(1000);
    gcs->Answer();
  }
  std::vector<std::string> Freed() {
    auto f = freed;
    std::sort(f.begin(), f.end());
    return f;
  }
  fakes::ManualClock clock;
  std::vector<std::string> freed;
  std::unique_ptr<ReferenceCounter> rc;
  std::shared_ptr<FakeGcs> gcs;
  std::shared_ptr<BorrowerWatch> watch;
};

TEST_F(BorrowerWatchTest, CounterTracksHoldersOfBorrowsAndLends) {
  std::string x(28, 'x');
  rc->AddOwned(x);
  rc->AddLocal(x, nullptr);
  rpc::Address dead = Addr(kDead), caller = Addr(kCaller);
  rc->UpdateBorrowers(kDead, {x}, {}, {}, {}, &dead);
  rc->AddLent({x}, kCaller, &caller);
  EXPECT_EQ(rc->Holders().size(), 2u);
  rc->UpdateBorrowers(kDead, {}, {x});
  rc->UpdateBorrowers(kDead, {}, {x});  // a stale removal changes nothing
  rc->UpdateBorrowers(kCaller, {}, {}, {}, {x});
  EXPECT_TRUE(rc->Holders().empty());
  EXPECT_TRUE(freed.empty());  // the local ref still holds it
}

TEST_F(BorrowerWatchTest, DeadBorrowerAndDeadCallerReleasedLiveBorrowerKept) {
  const std::string only_dead(28, '1'), shared(28, '2'), lent(28, '3');
  for (const auto& oid : {only_dead, shared, lent}) rc->AddOwned(oid);
  rpc::Address dead = Addr(kDead), alive = Addr(kAlive);
  rc->UpdateBorrowers(kDead, {only_dead, shared}, {}, {}, {}, &dead);
  rc->UpdateBorrowers(kAlive, {shared}, {}, {}, {}, &alive);
  rc->UpdateBorrowers(kDead, {}, {}, {lent}, {}, &dead);  // a return in flight to the dead one
  Tick();
  ASSERT_EQ(gcs->asked.size(), 1u);
  EXPECT_EQ(gcs->asked[0].size(), 2u);
  EXPECT_TRUE(freed.empty());
  gcs->dead.insert(kDead);
  Tick();
  EXPECT_TRUE(freed.empty()) << "dead in one round: a grace of one more for updates in flight";
  Tick();
  EXPECT_EQ(Freed(), (std::vector<std::string>{only_dead, lent}));
  ASSERT_EQ(rc->Holders().size(), 1u);
  EXPECT_EQ(rc->Holders()[0].worker_id(), kAlive);
  rc->UpdateBorrowers(kAlive, {}, {shared});
  EXPECT_EQ(freed.size(), 3u);
  size_t calls = gcs->asked.size();
  for (int i = 0; i < 5; ++i) Tick();
  EXPECT_EQ(gcs->asked.size(), calls) << "no holders: no calls";
  // A late update of the dead one wakes the watch again; it is dropped again.
  const std::string again(28, '4');
  rc->AddOwned(again);
  rc->UpdateBorrowers(kDead, {again}, {}, {}, {}, &dead);
  Tick();
  Tick();
  EXPECT_EQ(freed.size(), 4u);
}

TEST_F(BorrowerWatchTest, GcsAwayKeepsEverythingAndAsksAgain) {
  const std::string x(28, 'x');
  rc->AddOwned(x);
  rpc::Address dead = Addr(kDead);
  rc->UpdateBorrowers(kDead, {x}, {}, {}, {}, &dead);
  gcs->dead.insert(kDead);
  for (int i = 0; i < 3; ++i) {
    clock.AdvanceMs(1000);
    gcs->Answer(false);
  }
  EXPECT_EQ(gcs->asked.size(), 3u);
  EXPECT_TRUE(freed.empty());
  Tick();
  Tick();
  EXPECT_EQ(freed, std::vector<std::string>{x});
}

TEST_F(BorrowerWatchTest, ADeadLendersUnacknowledgedLendsAreReleasedAfterTheGrace) {
  // Two executors lend x to a live caller (each a return carrying x); the
  // caller acknowledges the one whose result it got, naming its lender; the
  // other executor dies before its result left: its lend goes with it.
  const std::string x(28, 'x');
  rc->AddOwned(x);
  rpc::Address caller = Addr(kCaller), dead = Addr(kDead), alive = Addr(kAlive);
  rc->UpdateBorrowers(kCaller, {}, {}, {x}, {}, &caller, &dead);
  rc->UpdateBorrowers(kCaller, {}, {}, {x}, {}, &caller, &alive);
  EXPECT_EQ(rc->Holders().size(), 3u) << "the caller and both lenders are watched";
  rc->UpdateBorrowers(kCaller, {}, {}, {}, {x}, nullptr, nullptr, {kAlive});  // the result that arrived
  EXPECT_TRUE(freed.empty());
  EXPECT_EQ(rc->Holders().size(), 2u) << "the acknowledged lender is no longer watched";
  Tick();
  gcs->dead.insert(kDead);
  Tick();
  EXPECT_TRUE(freed.empty()) << "dead in one round: a grace of one more for an acknowledgement in flight";
  Tick();
  EXPECT_EQ(freed, std::vector<std::string>{x});
  EXPECT_TRUE(rc->Holders().empty());
}

TEST_F(BorrowerWatchTest, ALendNamingNoLenderIsKeptWhenAnExecutorDies) {
  // The protocol before lenders (an older executor): the owner cannot tell
  // whose lend it is, so it is kept until the caller acknowledges or dies.
  const std::string x(28, 'x');
  rc->AddOwned(x);
  rpc::Address caller = Addr(kCaller), dead = Addr(kDead);
  rc->UpdateBorrowers(kCaller, {}, {}, {x}, {}, &caller);
  rc->UpdateBorrowers(kDead, {x}, {}, {}, {}, &dead);
  rc->UpdateBorrowers(kDead, {}, {x});
  gcs->dead.insert(kDead);
  for (int i = 0; i < 4; ++i) Tick();
  EXPECT_TRUE(freed.empty());
  rc->UpdateBorrowers(kCaller, {}, {}, {}, {x}, nullptr, nullptr, {kDead});
  EXPECT_EQ(freed, std::vector<std::string>{x});
}

TEST_F(BorrowerWatchTest, OwnLendsAreNotAskedAbout) {
  const std::string x(28, 'x');
  rc->AddOwned(x);
  rc->AddLocal(x, nullptr);
  rpc::Address self = Addr(kSelf);
  rc->AddLent({x}, kSelf, &self);
  for (int i = 0; i < 2; ++i) Tick();
  EXPECT_TRUE(gcs->asked.empty());
}

}  // namespace
}  // namespace polyray::core

// The owner's side of the reference protocol (docs/ownership.md, "The
// reference protocol") in the C++ ReferenceCounter: lends to a caller hold an
// object until that caller acknowledges each of them, whatever it registered
// or removed meanwhile; callers that do not acknowledge are released by their
// first "added"; acknowledgements go to the owners of received refs.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/borrow_tracker.h"
#include "core/reference_counter.h"

namespace polyray::core {
namespace {

const std::string kSelf(28, 's');
const std::string kCaller(28, 'c');
const std::string kOther(28, 'o');

class ReferenceCounterTest : public ::testing::Test {
 protected:
  ReferenceCounterTest() {
    ReferenceCounter::Listener l;
    l.free = [this](const std::string& oid, const std::vector<std::string>&) { freed.push_back(oid); };
    l.borrow_changed = [](const rpc::Address&, std::vector<std::string>, std::vector<std::string>) {};
    l.lent_received = [this](const rpc::Address& owner, std::vector<std::string> oids, const std::string& lender) {
      acks.push_back(owner.worker_id().substr(0, 1) + std::to_string(oids.size()) + lender.substr(0, 1));
    };
    rc = std::make_unique<ReferenceCounter>(std::move(l));
  }
  std::string OwnedWithLocal(char c) {
    std::string oid(28, c);
    rc->AddOwned(oid);
    rc->AddLocal(oid, nullptr);
    return oid;
  }
  std::vector<std::string> freed;
  std::vector<std::string> acks;
  std::unique_ptr<ReferenceCounter> rc;
};

TEST_F(ReferenceCounterTest, TwoLendsToARegisteredCallerHoldUntilBothAreAcknowledged) {
  std::string g = OwnedWithLocal('g');
  rc->UpdateBorrowers(kCaller, {g}, {});  // the caller already borrows g
  rc->AddLent({g}, kCaller);
  rc->AddLent({g}, kCaller);
  rc->RemoveLocal(g);
  rc->UpdateBorrowers(kCaller, {}, {g});  // a stale removal of the earlier borrow
  EXPECT_TRUE(freed.empty());
  rc->UpdateBorrowers(kCaller, {}, {}, {}, {g});
  EXPECT_TRUE(freed.empty());
  rc->UpdateBorrowers(kCaller, {}, {}, {}, {g});
  EXPECT_EQ(freed, std::vector<std::string>{g});
  EXPECT_EQ(rc->Size(), 0u);
}

TEST_F(ReferenceCounterTest, ALendFromAnotherExecutorHoldsForTheCallerNamedInIt) {
  std::string g = OwnedWithLocal('g');
  rc->UpdateBorrowers(kCaller, {}, {}, {g}, {});  // the executor's lend
  rc->RemoveLocal(g);
  EXPECT_TRUE(freed.empty());
  rc->UpdateBorrowers(kOther, {}, {}, {}, {g});  // not kOther's lend
  EXPECT_TRUE(freed.empty());
  rc->UpdateBorrowers(kCaller, {g}, {});  // the caller's own hold
  rc->UpdateBorrowers(kCaller, {}, {}, {}, {g});
  EXPECT_TRUE(freed.empty());
  rc->UpdateBorrowers(kCaller, {}, {g});
  EXPECT_EQ(freed, std::vector<std::string>{g});
}

TEST_F(ReferenceCounterTest, ACallerThatDoesNotAcknowledgeIsReleasedByItsFirstAdd) {
  std::string g = OwnedWithLocal('g');
  rc->AddLent({g});
  rc->RemoveLocal(g);
  rc->UpdateBorrowers(kCaller, {g}, {});
  EXPECT_TRUE(freed.empty());
  rc->UpdateBorrowers(kCaller, {}, {g});
  EXPECT_EQ(freed, std::vector<std::string>{g});
}

TEST_F(ReferenceCounterTest, AcknowledgementsGoToEachOwnerAndOwnRefsAreReleasedHere) {
  std::string mine = OwnedWithLocal('m');
  rc->UpdateBorrowers(kSelf, {}, {}, {mine}, {});  // lent to this process by an executor
  rc->RemoveLocal(mine);
  EXPECT_TRUE(freed.empty());
  google::protobuf::RepeatedPtrField<rpc::ObjectRef> nested;
  auto add = [&nested](const std::string& oid, const std::string& owner) {
    rpc::ObjectRef* r = nested.Add();
    r->set_object_id(oid);
    r->mutable_owner()->set_worker_id(owner);
  };
  add(mine, kSelf);
  add(std::string(28, 'x'), kOther);
  add(std::string(28, 'y'), kOther);
  rc->AckReturned(nested, kSelf);
  EXPECT_EQ(freed, std::vector<std::string>{mine});
  EXPECT_EQ(acks, std::vector<std::string>{"o2"});
}

TEST_F(ReferenceCounterTest, LendsAreKeptPerLenderAndADeadLendersGoWithIt) {
  const std::string l1(28, '1'), l2(28, '2');
  rpc::Address a1, a2;
  a1.set_worker_id(l1);
  a2.set_worker_id(l2);
  std::string g = OwnedWithLocal('g');
  rc->UpdateBorrowers(kCaller, {}, {}, {g}, {}, nullptr, &a1);  // l1's return carries g (l1 then dies)
  rc->UpdateBorrowers(kCaller, {}, {}, {g}, {}, nullptr, &a2);  // the retry on l2 carries it too
  rc->RemoveLocal(g);
  rc->UpdateBorrowers(kCaller, {}, {}, {}, {g}, nullptr, nullptr, {l2});  // l2's result arrived
  EXPECT_TRUE(freed.empty()) << "l1's lend still holds g";
  rc->UpdateBorrowers(kCaller, {}, {}, {}, {g}, nullptr, nullptr, {l2});  // a duplicate: nothing of l2's left
  EXPECT_TRUE(freed.empty());
  rc->DropBorrower(l2);  // l2 dies after its result was acknowledged: nothing to release
  EXPECT_TRUE(freed.empty());
  rc->DropBorrower(l1);
  EXPECT_EQ(freed, std::vector<std::string>{g});
  EXPECT_TRUE(rc->Holders().empty());
}

TEST_F(ReferenceCounterTest, AnOwnLendIsAcknowledgedByTheExecutorsName) {
  // An executor's own objects are lent naming no lender; the caller's
  // acknowledgement names the executor (itself) and releases it.
  std::string g = OwnedWithLocal('g');
  rpc::Address caller;
  caller.set_worker_id(kCaller);
  rc->AddLent({g}, kCaller, &caller);
  rc->RemoveLocal(g);
  rc->UpdateBorrowers(kCaller, {}, {}, {}, {g}, nullptr, nullptr, {kSelf});
  EXPECT_EQ(freed, std::vector<std::string>{g});
  EXPECT_TRUE(rc->Holders().empty());
}

TEST(BorrowQueueTest, AcknowledgementsCarryTheirLenders) {
  BorrowQueue q;
  BorrowQueue::Key key{kOther, ""};
  q.Decide(key, {}, {}, {}, {"a"}, kCaller);
  q.Decide(key, {}, {}, {"r"}, {"b"}, kSelf);
  rpc::UpdateBorrowsRequest req;
  std::vector<int64_t> seqs;
  ASSERT_TRUE(q.Take(key, &req, &seqs));
  EXPECT_EQ(std::vector<std::string>(req.lent_received().begin(), req.lent_received().end()),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(std::vector<std::string>(req.lent_received_lenders().begin(), req.lent_received_lenders().end()),
            (std::vector<std::string>{kCaller, kSelf}));
  EXPECT_EQ(req.removed_size(), 1);
}

}  // namespace
}  // namespace polyray::core

// The BorrowTracker's order rule, alone (BorrowQueue in borrow_tracker.h).
namespace polyray::core {
namespace {

std::vector<std::string> Ids(const google::protobuf::RepeatedPtrField<std::string>& f) { return {f.begin(), f.end()}; }

TEST(BorrowQueueTest, ARemovalWaitsForAnEarlierAddToAnotherOwner) {
  BorrowQueue q;
  BorrowQueue::Key inner{"inner", ""}, outer{"outer", ""};
  q.Decide(inner, {"g"}, {}, {}, {});  // found inside the outer value
  q.Decide(outer, {}, {}, {"o"}, {});  // then the outer ref is dropped
  rpc::UpdateBorrowsRequest add, rm;
  std::vector<int64_t> add_seqs, rm_seqs;
  EXPECT_FALSE(q.Take(outer, &rm, &rm_seqs));
  ASSERT_TRUE(q.Take(inner, &add, &add_seqs));
  EXPECT_EQ(Ids(add.added()), std::vector<std::string>{"g"});
  EXPECT_FALSE(q.Take(outer, &rm, &rm_seqs));  // sent, not answered
  q.Answered(inner, add_seqs);
  ASSERT_TRUE(q.Take(outer, &rm, &rm_seqs));
  EXPECT_EQ(Ids(rm.removed()), std::vector<std::string>{"o"});
  EXPECT_FALSE(q.Idle());
  q.Answered(outer, rm_seqs);
  EXPECT_TRUE(q.Idle());
}

TEST(BorrowQueueTest, OneCallPerKeyInOrderAndLendsApart) {
  BorrowQueue q;
  BorrowQueue::Key own{"owner", ""}, lend{"owner", "caller"};
  q.Decide(lend, {}, {"g"}, {}, {});  // a return's ref, held for the caller
  q.Decide(own, {}, {}, {"g"}, {});   // the executor's own hold ends
  q.Decide(own, {"h"}, {}, {}, {});   // decided later: waits behind the removal
  rpc::UpdateBorrowsRequest a, b, c;
  std::vector<int64_t> sa, sb, sc;
  EXPECT_FALSE(q.Take(own, &b, &sb));  // the removal waits for the lend
  ASSERT_TRUE(q.Take(lend, &a, &sa));
  EXPECT_EQ(Ids(a.lent()), std::vector<std::string>{"g"});
  q.Answered(lend, sa);
  ASSERT_TRUE(q.Take(own, &b, &sb));
  EXPECT_EQ(Ids(b.removed()), std::vector<std::string>{"g"});
  EXPECT_TRUE(b.added().empty());
  EXPECT_FALSE(q.Take(own, &c, &sc));  // one call per key
  q.Answered(own, sb);
  ASSERT_TRUE(q.Take(own, &c, &sc));
  EXPECT_EQ(Ids(c.added()), std::vector<std::string>{"h"});
  q.Answered(own, sc);
  EXPECT_TRUE(q.Idle());
}

// The state API's listing (GetObjectRefs): pages in id order (unsigned
// bytes, as Python and Java), every count copied, the copies' nodes primary first.
TEST_F(ReferenceCounterTest, ListingPagesInIdOrderWithEveryCount) {
  std::string a = OwnedWithLocal('a');
  std::string c = OwnedWithLocal('c');
  std::string b = OwnedWithLocal('b');
  rc->AddSubmitted({b});
  rc->UpdateBorrowers(kOther, {c}, {});
  const std::string primary(28, 'n'), copy(28, 'm');
  rc->SetInStore(c, primary);
  rc->AddLocation(c, copy);
  rpc::Address owner;
  owner.set_worker_id(kCaller);
  const std::string d(28, '\xff');  // borrowed; sorts last
  rc->AddLocal(d, &owner);
  std::vector<ReferenceCounter::RefRow> rows;
  EXPECT_EQ(rc->Listing("", 2, &rows), 4u);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].oid, a);
  EXPECT_EQ(rows[1].oid, b);
  EXPECT_EQ(rows[1].submitted, 1);
  EXPECT_EQ(rows[1].local, 1);
  rows.clear();
  EXPECT_EQ(rc->Listing(b, 10, &rows), 4u);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].oid, c);
  EXPECT_TRUE(rows[0].owned);
  EXPECT_EQ(rows[0].borrowers, std::vector<std::string>{kOther});
  EXPECT_EQ(rows[0].locations, (std::vector<std::string>{primary, copy}));
  EXPECT_EQ(rows[1].oid, d);
  EXPECT_FALSE(rows[1].owned);
  EXPECT_EQ(rows[1].owner.worker_id(), kCaller);
  rows.clear();
  EXPECT_EQ(rc->Listing(d, 10, &rows), 4u);
  EXPECT_TRUE(rows.empty());
}

TEST(BorrowQueueTest, NothingDecidedLeavesItIdle) {
  BorrowQueue q;
  q.Decide({"owner", ""}, {}, {}, {}, {});
  EXPECT_TRUE(q.Idle());
  EXPECT_TRUE(q.Waiting().empty());
}

}  // namespace
}  // namespace polyray::core

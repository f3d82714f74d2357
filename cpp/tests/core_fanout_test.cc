// Bounded fan-out of the C++ CoreWorker with fakes (docs/ownership.md,
// "Fan-out"): the ObjectFetcher (core/object_fetcher.h) batches fetches per
// owner in GetObjects calls of at most spec::kFanoutMaxIdsPerFetch ids, at
// most spec::kFanoutMaxFetchesInFlightPerOwner open per owner, asks again for
// ids not answered, cancels a call that only waits when new ids queue, fails
// the ids of a failed call and falls back to GetObject for an owner without
// GetObjects; KeyedLimit (core/keyed_limit.h) caps the ObjectPuller's streams
// per serving node at spec::kFanoutMaxPullsInFlightPerNode.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/keyed_limit.h"
#include "core/object_fetcher.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {
namespace {

std::string Id(int i) {
  std::string s(28, '\0');
  s[0] = static_cast<char>(i & 0xff);
  s[1] = static_cast<char>((i >> 8) & 0xff);
  s[2] = static_cast<char>((i >> 16) & 0xff);
  return s;
}

rpc::Address Owner(char c) {
  rpc::Address a;
  a.set_worker_id(std::string(28, c));
  a.set_host("127.0.0.1");
  a.set_port(1);
  return a;
}

/// Calls the fake "sends" and answers by hand.
struct FakeOwners {
  struct Call {
    rpc::Address owner;
    std::vector<std::string> ids;
    ObjectFetcher::Done done;
    bool cancelled = false;
    bool finished = false;
  };
  std::mutex mu;
  std::vector<std::shared_ptr<Call>> calls;
  std::map<std::string, int> answered;
  std::map<std::string, grpc::StatusCode> failed;
  std::vector<std::string> one_by_one;

  ObjectFetcher::Deps Deps() {
    ObjectFetcher::Deps d;
    d.send = [this](const rpc::Address& owner, const std::vector<std::string>& ids, std::function<void()>* cancel,
                    ObjectFetcher::Done done) {
      auto c = std::make_shared<Call>();
      c->owner = owner;
      c->ids = ids;
      c->done = std::move(done);
      *cancel = [c] { c->cancelled = true; };
      std::lock_guard<std::mutex> lock(mu);
      calls.push_back(c);
      return true;
    };
    d.answered = [this](const std::string& oid, const rpc::Address&, rpc::GetObjectReply&) {
      std::lock_guard<std::mutex> lock(mu);
      answered[oid]++;
    };
    d.failed = [this](const std::string& oid, const rpc::Address&, const grpc::Status& st) {
      std::lock_guard<std::mutex> lock(mu);
      failed[oid] = st.error_code();
    };
    d.fetch_one = [this](const std::string& oid, const rpc::Address&) {
      std::lock_guard<std::mutex> lock(mu);
      one_by_one.push_back(oid);
    };
    return d;
  }
  /// The open calls (not finished).
  std::vector<std::shared_ptr<Call>> Open() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::shared_ptr<Call>> out;
    for (auto& c : calls) {
      if (!c->finished) out.push_back(c);
    }
    return out;
  }
  /// Finishes `c`: answers the ids for which `ready` holds, or fails with `status`.
  static void Answer(const std::shared_ptr<Call>& c, const std::function<bool(const std::string&)>& ready,
                     grpc::Status status = grpc::Status::OK) {
    rpc::GetObjectsReply reply;
    if (status.ok()) {
      for (const std::string& id : c->ids) {
        if (!ready(id)) continue;
        reply.add_object_ids(id);
        reply.add_objects()->set_found(true);
      }
    }
    c->finished = true;
    c->done(status, reply);
  }
};

TEST(FanoutTest, TenThousandIdsOfOneOwnerGoInCappedBatches) {
  FakeOwners fake;
  ObjectFetcher f(fake.Deps());
  const int n = 10'000;
  rpc::Address owner = Owner('a');
  std::vector<std::pair<std::string, rpc::Address>> items;
  for (int i = 0; i < n; ++i) items.emplace_back(Id(i), owner);
  items.emplace_back(Id(0), owner);  // asked twice: fetched once
  f.Fetch(items);  // as one Get of n refs does
  auto open = fake.Open();
  ASSERT_EQ(open.size(), static_cast<size_t>(spec::kFanoutMaxFetchesInFlightPerOwner));
  for (auto& c : open) EXPECT_EQ(c->ids.size(), static_cast<size_t>(spec::kFanoutMaxIdsPerFetch));
  // Answer everything as it comes: every id answered exactly once, never more calls open.
  while (!(open = fake.Open()).empty()) {
    EXPECT_LE(open.size(), static_cast<size_t>(spec::kFanoutMaxFetchesInFlightPerOwner));
    FakeOwners::Answer(open.front(), [](const std::string&) { return true; });
  }
  EXPECT_EQ(fake.answered.size(), static_cast<size_t>(n));
  for (auto& [id, count] : fake.answered) EXPECT_EQ(count, 1);
  EXPECT_EQ(f.calls_sent(), n / spec::kFanoutMaxIdsPerFetch);
  EXPECT_EQ(f.most_in_flight(), spec::kFanoutMaxFetchesInFlightPerOwner);
  EXPECT_EQ(f.pending(), 0u);
}

TEST(FanoutTest, OwnersAreCappedSeparately) {
  FakeOwners fake;
  ObjectFetcher f(fake.Deps());
  for (int i = 0; i < 100; ++i) f.Fetch(Id(i), Owner(static_cast<char>('a' + i % 10)));
  auto open = fake.Open();
  std::map<std::string, int> per_owner;
  for (auto& c : open) per_owner[c->owner.worker_id()]++;
  EXPECT_EQ(per_owner.size(), 10u);
  for (auto& [o, k] : per_owner) EXPECT_LE(k, spec::kFanoutMaxFetchesInFlightPerOwner);
}

TEST(FanoutTest, IdsNotAnsweredAreAskedAgainAndNewOnesDoNotWaitBehindThem) {
  FakeOwners fake;
  ObjectFetcher::Deps deps = fake.Deps();
  deps.max_in_flight = 2;
  deps.max_ids = 2;
  ObjectFetcher f(std::move(deps));
  rpc::Address owner = Owner('a');
  f.Fetch({{Id(0), owner}, {Id(1), owner}, {Id(2), owner}, {Id(3), owner}});
  auto open = fake.Open();
  ASSERT_EQ(open.size(), 2u);
  // None ready: the owner answers empty (its wait timed out); the ids go out again, waiting.
  FakeOwners::Answer(open[0], [](const std::string&) { return false; });
  FakeOwners::Answer(open[1], [](const std::string&) { return false; });
  open = fake.Open();
  ASSERT_EQ(open.size(), 2u);
  // A new id: both slots only wait, so one call is cancelled to make room.
  f.Fetch(Id(9), owner);
  auto cancelled = std::count_if(open.begin(), open.end(), [](auto& c) { return c->cancelled; });
  ASSERT_EQ(cancelled, 1);
  auto victim = *std::find_if(open.begin(), open.end(), [](auto& c) { return c->cancelled; });
  FakeOwners::Answer(victim, [](const std::string&) { return false; }, grpc::Status(grpc::StatusCode::CANCELLED, ""));
  open = fake.Open();
  ASSERT_EQ(open.size(), 2u);
  bool sent = false;
  for (auto& c : open) sent |= std::find(c->ids.begin(), c->ids.end(), Id(9)) != c->ids.end();
  EXPECT_TRUE(sent) << "the new id went out at once";
  EXPECT_TRUE(fake.failed.empty()) << "a call cancelled to make room fails nothing";
  while (!(open = fake.Open()).empty()) FakeOwners::Answer(open.front(), [](const std::string&) { return true; });
  EXPECT_EQ(fake.answered.size(), 5u);
}

TEST(FanoutTest, AFailedCallFailsItsIdsAndAnOldOwnerIsAskedOneByOne) {
  FakeOwners fake;
  ObjectFetcher f(fake.Deps());
  f.Fetch(Id(1), Owner('a'));
  f.Fetch(Id(2), Owner('b'));
  auto open = fake.Open();
  ASSERT_EQ(open.size(), 2u);
  for (auto& c : open) {
    grpc::StatusCode code =
        c->owner.worker_id()[0] == 'a' ? grpc::StatusCode::UNAVAILABLE : grpc::StatusCode::UNIMPLEMENTED;
    FakeOwners::Answer(c, [](const std::string&) { return true; }, grpc::Status(code, ""));
  }
  EXPECT_EQ(fake.failed.at(Id(1)), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(fake.one_by_one, std::vector<std::string>{Id(2)});
  f.Fetch(Id(3), Owner('b'));  // known old owner: straight to GetObject
  EXPECT_EQ(fake.one_by_one.size(), 2u);
  EXPECT_EQ(f.pending(), 0u);
  f.Fetch(Id(1), Owner('a'));  // failed ids may be asked again
  EXPECT_EQ(fake.Open().size(), 1u);
}

TEST(FanoutTest, PullStreamsAreCappedPerServingNode) {
  KeyedLimit limit(spec::kFanoutMaxPullsInFlightPerNode);
  std::atomic<int> running{0}, most{0};
  std::atomic<bool> release{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3 * spec::kFanoutMaxPullsInFlightPerNode; ++i) {
    threads.emplace_back([&] {
      KeyedLimit::Slot slot = limit.Acquire("node-b", std::chrono::seconds(30));
      ASSERT_TRUE(slot);
      int now = ++running;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      --running;
    });
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (limit.held("node-b") < spec::kFanoutMaxPullsInFlightPerNode && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(limit.held("node-b"), spec::kFanoutMaxPullsInFlightPerNode);
  // Another node is not held back by node-b's streams; a full node times out.
  EXPECT_TRUE(limit.Acquire("node-c", std::chrono::milliseconds(10)));
  EXPECT_FALSE(limit.Acquire("node-b", std::chrono::milliseconds(10)));
  release = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(most.load(), spec::kFanoutMaxPullsInFlightPerNode);
  EXPECT_EQ(limit.held("node-b"), 0);
}

}  // namespace
}  // namespace polyray::core

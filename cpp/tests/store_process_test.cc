// store_process_test.cc — stores shared by threads and forked processes,
// including a process killed while holding the lock.
// Shared helpers and the StoreTest fixture: store_test_util.h.

#include "store_test_util.h"

namespace polyray {
namespace {

TEST_F(StoreTest, GetWaitsForSealByAnotherProcess) {
  Store store = Make();
  ObjectId id = MakeId(10);
  Child child([&] {
    Store s = Store::Open(name_);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<uint8_t> d = Bytes(5000, 10);
    s.Put(id, d.data(), d.size());
    return 0;
  });
  ObjectView v = store.GetOne(id, 10000);
  EXPECT_EQ(v.size(), 5000u);
  EXPECT_EQ(Mismatch(v.data(), v.size(), 10), -1);
  EXPECT_EQ(child.Wait(), "exit 0");
}

TEST_F(StoreTest, ForkChildLeavesInheritedPinsAndObjectsAlone) {
  Store store = Make();
  ObjectId id = MakeId(8);
  store.Put(id, "parent", 6);
  ObjectView inherited = store.GetOne(id, 0);
  ObjectBuilder unsealed = store.CreateObject(MakeId(9), 100);
  Child child([&] {
    ObjectView own = store.GetOne(id, 0);  // the child's pin
    if (store.List().size() != 2) return 10;
    // Releasing the parent's view must not drop the child's pin...
    inherited.Release();
    for (const ObjectInfo& info : store.List()) {
      if (info.id == id && info.pins != 2) {
        std::fprintf(stderr, "pins %lld after releasing an inherited view\n",
                     static_cast<long long>(info.pins));
        return 11;
      }
    }
    // ...nor may the child abort the object the parent is still writing.
    { ObjectBuilder gone = std::move(unsealed); }
    return store.List().size() == 2 ? 0 : 12;
  });
  EXPECT_EQ(child.Wait(), "exit 0");
  EXPECT_EQ(store.List().size(), 2u);
  EXPECT_EQ(store.GetStats().pinned_objects, 1u);
  std::memcpy(unsealed.data(), Bytes(100, 9).data(), 100);
  unsealed.Seal();
  EXPECT_TRUE(store.Contains(MakeId(9)));
}

// ------------------------------------------------------- many processes

TEST_F(StoreTest, ForkedProcessesCreateAndReadConcurrently) {
  const int kProcs = 4;
  const uint64_t kObjects = 2000;
  auto size_of = [](int p, uint64_t i) -> size_t { return (i * 131 + p * 17) % 1500; };
  auto seed_of = [](int p, uint64_t i) -> uint64_t { return p * 1000003ull + i; };
  Store store = Make(64 << 20);

  std::vector<Child> children;
  for (int p = 0; p < kProcs; ++p) {
    children.emplace_back([&, p] {
      Store s = Store::Open(name_);
      std::vector<uint8_t> buf(2000);
      for (uint64_t i = 0; i < kObjects; ++i) {
        size_t n = size_of(p, i);
        ObjectBuilder b = s.CreateObject(MakeId(i, p), n);
        Fill(b.data(), n, seed_of(p, i));
        b.Seal();
        // Read a neighbour's object as it is being written (waits if needed).
        if (i % 10 == 0) {
          int q = (p + 1) % kProcs;
          ObjectView v = s.GetOne(MakeId(i, q), 30000);
          if (v.size() != size_of(q, i) || Mismatch(v.data(), v.size(), seed_of(q, i)) >= 0) {
            std::fprintf(stderr, "child %d: object (%d,%llu) corrupt\n", p, q,
                         static_cast<unsigned long long>(i));
            return 2;
          }
        }
      }
      // Then everyone's objects, in batches.
      for (int q = 0; q < kProcs; ++q) {
        for (uint64_t start = 0; start < kObjects; start += 100) {
          std::vector<ObjectId> ids;
          for (uint64_t i = start; i < start + 100; ++i) ids.push_back(MakeId(i, q));
          std::vector<std::optional<ObjectView>> views = s.Get(ids, 30000);
          for (uint64_t k = 0; k < ids.size(); ++k) {
            uint64_t i = start + k;
            if (!views[k] || views[k]->size() != size_of(q, i) ||
                Mismatch(views[k]->data(), views[k]->size(), seed_of(q, i)) >= 0) {
              std::fprintf(stderr, "child %d: object (%d,%llu) missing or corrupt\n", p, q,
                           static_cast<unsigned long long>(i));
              return 3;
            }
          }
        }
      }
      return 0;
    });
  }
  for (size_t p = 0; p < children.size(); ++p) {
    EXPECT_EQ(children[p].Wait(), "exit 0") << "child " << p;
  }
  Stats stats = store.GetStats();
  EXPECT_EQ(stats.objects, kProcs * kObjects);
  EXPECT_EQ(stats.sealed_objects, kProcs * kObjects);
  EXPECT_EQ(stats.pinned_objects, 0u);  // every child released what it read
  EXPECT_EQ(stats.evictions, 0u);
  for (int q = 0; q < kProcs; ++q) {
    ObjectView v = store.GetOne(MakeId(kObjects - 1, q), 0);
    EXPECT_EQ(Mismatch(v.data(), v.size(), seed_of(q, kObjects - 1)), -1);
  }
}

TEST_F(StoreTest, ThreadsShareOneHandle) {
  Store store = Make(32 << 20);
  const int kThreads = 4;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (uint64_t i = 0; i < 500; ++i) {
          std::vector<uint8_t> d = Bytes(i % 700, t * 7919 + i);
          store.Put(MakeId(i, 100 + t), d.data(), d.size());
          ObjectView v = store.GetOne(MakeId(i, 100 + (t + 1) % kThreads), 30000);
          if (Mismatch(v.data(), v.size(), ((t + 1) % kThreads) * 7919 + i) >= 0) ++failures;
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "thread %d: %s\n", t, e.what());
        ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store.GetStats().pinned_objects, 0u);
}

// --------------------------------------------------- a process that dies

TEST_F(StoreTest, KilledLockHolderIsRecoveredAndReclaimed) {
  Store store = Make(8 << 20);
  ObjectId shared = MakeId(1);
  ObjectId unsealed = MakeId(2);
  const uint64_t kUnsealedSize = 1 << 20;
  std::vector<uint8_t> d = Bytes(4000, 1);
  store.Put(shared, d.data(), d.size());
  uint64_t used_before = store.GetStats().bytes_used;

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Child child([&] {
    close(fds[0]);
    Store s = Store::Open(name_);
    ObjectView pin = s.GetOne(shared, 0);
    ObjectBuilder b = s.CreateObject(unsealed, kUnsealedSize);
    std::memset(b.data(), 0xee, kUnsealedSize);
    int status = prs_test_hold_lock(s.native_handle());
    if (write(fds[1], &status, sizeof(status)) != sizeof(status)) return 4;
    for (;;) pause();  // wait for SIGKILL with the lock, pin and object held
  });
  const pid_t child_pid = child.pid();
  close(fds[1]);
  struct pollfd pfd = {fds[0], POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 20000), 1) << "child never reported holding the lock";
  int hold_status = -1;
  ASSERT_EQ(read(fds[0], &hold_status, sizeof(hold_status)),
            static_cast<ssize_t>(sizeof(hold_status)));
  close(fds[0]);
  ASSERT_EQ(hold_status, PRS_OK) << prs_status_name(hold_status);
  ASSERT_EQ(kill(child_pid, SIGKILL), 0);
  ASSERT_EQ(child.Wait(), "signal 9");

  // The next locker repairs the state; nothing may hang.
  Stats stats;
  std::string error;
  ASSERT_TRUE(FinishesWithin(std::chrono::seconds(20), [&] { stats = store.GetStats(); }, &error))
      << "GetStats() hung after the lock holder died";
  ASSERT_EQ(error, "");
  EXPECT_GE(stats.recoveries, 1u);
  EXPECT_EQ(stats.objects, 2u);
  EXPECT_EQ(stats.pinned_objects, 1u);  // the dead child's pin, until reclaimed
  EXPECT_GE(stats.bytes_used, used_before + kUnsealedSize);
  bool saw_unsealed = false;
  for (const ObjectInfo& info : store.List()) {
    if (info.id == unsealed) {
      saw_unsealed = true;
      EXPECT_FALSE(info.sealed);
      EXPECT_EQ(info.creator_pid, child_pid);
    }
  }
  EXPECT_TRUE(saw_unsealed);

  // The store still works for everyone else.
  std::vector<uint8_t> fresh = Bytes(10000, 3);
  store.Put(MakeId(3), fresh.data(), fresh.size());
  EXPECT_EQ(Mismatch(store.GetOne(MakeId(3), 0).data(), fresh.size(), 3), -1);
  EXPECT_EQ(Mismatch(store.GetOne(shared, 0).data(), d.size(), 1), -1);
  Child reader([&] {
    Store s = Store::Open(name_);
    ObjectView v = s.GetOne(MakeId(3), 1000);
    return Mismatch(v.data(), v.size(), 3) == -1 ? 0 : 5;
  });
  EXPECT_EQ(reader.Wait(), "exit 0");

  ReclaimResult r = store.Reclaim(child_pid);
  EXPECT_EQ(r.pins_dropped, 1u);
  EXPECT_EQ(r.objects_aborted, 1u);
  EXPECT_GE(r.bytes_freed, kUnsealedSize);
  stats = store.GetStats();
  EXPECT_EQ(stats.pinned_objects, 0u);
  EXPECT_EQ(stats.objects, 2u);  // shared + fresh
  EXPECT_FALSE(store.Contains(unsealed));
  EXPECT_LE(stats.bytes_used, used_before + 16384);
  // The aborted id can be created again, and a second reclaim finds nothing.
  store.Put(unsealed, "again", 5);
  ReclaimResult again = store.Reclaim(child_pid);
  EXPECT_EQ(again.pins_dropped, 0u);
  EXPECT_EQ(again.objects_aborted, 0u);
  EXPECT_EQ(again.bytes_freed, 0u);
}

}  // namespace
}  // namespace polyray

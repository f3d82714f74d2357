// store_eviction_test.cc — a full store and LRU eviction.
// Shared helpers and the StoreTest fixture: store_test_util.h.

#include "store_test_util.h"

namespace polyray {
namespace {

// ------------------------------------------------------ full / eviction

TEST_F(StoreTest, ObjectLargerThanCapacityIsFull) {
  Store store = Make(1 << 20);
  try {
    store.CreateObject(MakeId(1), 2 << 20);
    FAIL() << "no exception";
  } catch (const StoreFullError& e) {
    EXPECT_EQ(e.status(), StoreStatus::kFull);
    EXPECT_TRUE(HasText(e.what(), "2097152"));
    EXPECT_TRUE(HasText(e.what(), "capacity"));
  }
  EXPECT_EQ(store.GetStats().objects, 0u);
}

TEST_F(StoreTest, EvictIsLeastRecentlyUsedFirstAndSkipsPinned) {
  Store store = Make(1 << 20);
  const size_t kSize = 200 << 10;
  ObjectId a = MakeId(1), b = MakeId(2), c = MakeId(3), d = MakeId(4);
  for (const ObjectId& id : {a, b, c, d}) {
    std::vector<uint8_t> bytes = Bytes(kSize, id.data()[0]);
    store.Put(id, bytes.data(), bytes.size());
  }
  store.GetOne(a, 0).Release();      // a is now the most recently used
  ObjectView pinned = store.GetOne(b, 0);  // b is oldest-but-one, and pinned

  // LRU order of the unpinned: c, d, a.
  EXPECT_GE(store.Evict(1), kSize);
  EXPECT_FALSE(store.Contains(c));
  EXPECT_TRUE(store.Contains(a));
  EXPECT_TRUE(store.Contains(d));
  EXPECT_GE(store.Evict(1), kSize);
  EXPECT_FALSE(store.Contains(d));
  EXPECT_TRUE(store.Contains(a));
  // Asking for everything frees a but never b.
  EXPECT_GE(store.Evict(1 << 30), kSize);
  EXPECT_FALSE(store.Contains(a));
  EXPECT_TRUE(store.Contains(b));
  EXPECT_EQ(store.Evict(1 << 30), 0u);
  EXPECT_EQ(Mismatch(pinned.data(), pinned.size(), b.data()[0]), -1);
  EXPECT_EQ(store.GetStats().evictions, 3u);
}

TEST_F(StoreTest, CreateEvictsUnpinnedButNeverPinned) {
  Store store = Make(1 << 20);
  const size_t kBig = 600 << 10;
  std::vector<uint8_t> big = Bytes(kBig, 1);
  store.Put(MakeId(1), big.data(), big.size());
  ObjectView pin = store.GetOne(MakeId(1), 0);

  // No room while the big object is pinned, and it survives the attempt.
  try {
    store.CreateObject(MakeId(2), kBig);
    FAIL() << "no exception";
  } catch (const StoreFullError& e) {
    EXPECT_TRUE(HasText(e.what(), std::to_string(kBig)));
  }
  EXPECT_TRUE(store.Contains(MakeId(1)));
  EXPECT_EQ(Mismatch(pin.data(), pin.size(), 1), -1);

  // Small objects fill the rest; a create that needs their room evicts them.
  for (uint64_t i = 10; i < 13; ++i) {
    std::vector<uint8_t> small = Bytes(100 << 10, i);
    store.Put(MakeId(i), small.data(), small.size());
  }
  std::vector<uint8_t> mid = Bytes(300 << 10, 20);
  store.Put(MakeId(20), mid.data(), mid.size());
  EXPECT_TRUE(store.Contains(MakeId(1)));
  EXPECT_TRUE(store.Contains(MakeId(20)));
  EXPECT_GE(store.GetStats().evictions, 1u);

  // Once unpinned, the big object is evictable like any other.
  pin.Release();
  store.Put(MakeId(2), big.data(), big.size());
  EXPECT_FALSE(store.Contains(MakeId(1)));
  EXPECT_EQ(Mismatch(store.GetOne(MakeId(2), 0).data(), kBig, 1), -1);
}

}  // namespace
}  // namespace polyray

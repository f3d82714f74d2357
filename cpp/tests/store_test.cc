// store_test.cc — tests of polyray::Store over a real shared-memory segment,
// including forked processes and a process killed while holding the lock.
//
// Invariants:
//   - Every test uses its own segment name (pid + counter + test name) and
//     unlinks it in TearDown, so tests never see each other's objects and
//     leave nothing in /dev/shm.
//   - A forked child never returns into GoogleTest: it runs one function and
//     leaves with _exit(code), 0 meaning every check passed. The parent
//     asserts on that code; the child prints what went wrong to stderr.
//   - Object contents are a deterministic function of a seed, so any process
//     can check bytes written by any other.
#include "polyray/store.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "polyray_store.h"

namespace polyray {
namespace {

// --------------------------------------------------------------- helpers

// gmock is not in Debian's libgtest-dev, so no HasSubstr matcher.
::testing::AssertionResult HasText(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

std::string UniqueName(const std::string& tag) {
  static std::atomic<int> counter{0};
  std::string name = "/polyray-cpptest-" + std::to_string(getpid()) + "-" +
                     std::to_string(counter++) + "-" + tag;
  // Test names may hold '/' (parameterized tests); the store forbids it.
  for (size_t i = 1; i < name.size(); ++i) {
    if (name[i] == '/') name[i] = '_';
  }
  return name;
}

ObjectId MakeId(uint64_t a, uint64_t b = 0) {
  uint8_t raw[kObjectIdSize] = {};
  std::memcpy(raw, &a, sizeof(a));
  std::memcpy(raw + 8, &b, sizeof(b));
  raw[kObjectIdSize - 1] = 0xa5;  // never all zero
  return ObjectId::FromBinary(raw, sizeof(raw));
}

// xorshift64* stream: cheap, deterministic bytes for a seed.
void Fill(uint8_t* p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    p[i] = static_cast<uint8_t>((x * 0x2545f4914f6cdd1dull) >> 56);
  }
}

std::vector<uint8_t> Bytes(size_t n, uint64_t seed) {
  std::vector<uint8_t> v(n);
  Fill(v.data(), n, seed);
  return v;
}

// Index of the first byte that differs from Fill(seed), or -1.
long Mismatch(const uint8_t* p, size_t n, uint64_t seed) {
  std::vector<uint8_t> want = Bytes(n, seed);
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != want[i]) return static_cast<long>(i);
  }
  return -1;
}

// A forked child that runs one function and exits with its return value
// (1 on exception). If the test stops early (a failed ASSERT), the child is
// killed and reaped, so no orphan keeps running (or keeps ctest's output
// pipe open).
class Child {
 public:
  explicit Child(const std::function<int()>& fn) {
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      int code = 1;
      try {
        code = fn();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: exception: %s\n", getpid(), e.what());
      } catch (...) {
        std::fprintf(stderr, "child %d: unknown exception\n", getpid());
      }
      std::fflush(nullptr);
      _exit(code);
    }
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + strerror(errno));
  }
  Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }

  // Wait for the child; how it ended ("exit 0" on success, "signal 9", ...).
  std::string Wait() {
    int status = 0;
    pid_t pid = std::exchange(pid_, -1);
    if (waitpid(pid, &status, 0) != pid) return "waitpid failed: " + std::string(strerror(errno));
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    return "status " + std::to_string(status);
  }

 private:
  pid_t pid_ = -1;
};

// Run fn on a detached thread and report whether it finished in time, so a
// deadlocked store fails the test with a message instead of hanging it.
bool FinishesWithin(std::chrono::milliseconds limit, std::function<void()> fn,
                    std::string* error) {
  auto done = std::make_shared<std::promise<std::string>>();
  std::future<std::string> result = done->get_future();
  std::thread([fn = std::move(fn), done] {
    try {
      fn();
      done->set_value("");
    } catch (const std::exception& e) {
      done->set_value(e.what());
    }
  }).detach();
  if (result.wait_for(limit) != std::future_status::ready) return false;
  *error = result.get();
  return true;
}

// The mapping (from /proc/self/maps) that contains p, or "" when none does.
std::string MappingOf(const void* p) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  auto addr = reinterpret_cast<uintptr_t>(p);
  while (std::getline(maps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi) {
      return line;
    }
  }
  return "";
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = UniqueName(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    for (const std::string& n : {name_, extra_name_}) {
      if (n.empty()) continue;
      try {
        Store::Unlink(n);
      } catch (const StoreError&) {
        // Tests that never created their segment, or unlinked it already.
      }
    }
  }
  Store Make(uint64_t capacity = 16 << 20) { return Store::Create(name_, capacity); }

  std::string name_;
  std::string extra_name_;
};

// ------------------------------------------------------------- ObjectId

TEST(ObjectIdTest, BinaryAndHexRoundTrip) {
  ObjectId id = MakeId(0x0123456789abcdefull, 42);
  EXPECT_EQ(id.Hex().size(), 2 * kObjectIdSize);
  EXPECT_EQ(ObjectId::FromHex(id.Hex()), id);
  EXPECT_EQ(ObjectId::FromBinary(id.Binary()), id);
  EXPECT_EQ(ObjectId::FromHex(std::string(56, 'F')).Hex(), std::string(56, 'f'));
  EXPECT_NE(MakeId(1), MakeId(2));
  EXPECT_NE(std::hash<ObjectId>()(MakeId(1)), std::hash<ObjectId>()(MakeId(2)));
}

TEST(ObjectIdTest, WrongLengthNamesExpectedAndActual) {
  try {
    ObjectId::FromBinary(std::string("abc"));
    FAIL() << "no exception";
  } catch (const InvalidObjectIdError& e) {
    EXPECT_EQ(e.status(), StoreStatus::kIdLength);
    EXPECT_TRUE(HasText(e.what(), "28"));
    EXPECT_TRUE(HasText(e.what(), "got 3"));
  }
  EXPECT_THROW(ObjectId::FromBinary(std::string(29, 'x')), InvalidObjectIdError);
  EXPECT_THROW(ObjectId::FromBinary(std::string()), InvalidObjectIdError);
  try {
    ObjectId::FromHex("abcd");
    FAIL() << "no exception";
  } catch (const InvalidObjectIdError& e) {
    EXPECT_TRUE(HasText(e.what(), "56"));
    EXPECT_TRUE(HasText(e.what(), "got 4"));
  }
  try {
    ObjectId::FromHex(std::string(55, '0') + "g");
    FAIL() << "no exception";
  } catch (const InvalidArgumentError& e) {
    EXPECT_TRUE(HasText(e.what(), "not hex"));
    EXPECT_TRUE(HasText(e.what(), "'g'"));
  }
}

// ----------------------------------------------------------- round trip

TEST_F(StoreTest, RoundTripWithMetadata) {
  Store store = Make();
  ObjectId id = MakeId(1);
  std::vector<uint8_t> data = Bytes(100000, 7);
  std::string meta = "format=RAW";
  store.Put(id, data.data(), data.size(), meta.data(), meta.size());

  EXPECT_TRUE(store.Contains(id));
  ObjectView view = store.GetOne(id, 0);
  EXPECT_EQ(view.id(), id);
  ASSERT_EQ(view.size(), data.size());
  EXPECT_EQ(std::memcmp(view.data(), data.data(), data.size()), 0);
  ASSERT_EQ(view.metadata_size(), meta.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(view.metadata()), meta.size()), meta);
  ByteSpan span = view.Data();
  EXPECT_EQ(span.size(), data.size());
  EXPECT_EQ(std::vector<uint8_t>(span.begin(), span.end()), data);

  std::vector<ObjectInfo> infos = store.List();
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_EQ(infos[0].id, id);
  EXPECT_TRUE(infos[0].sealed);
  EXPECT_EQ(infos[0].data_size, data.size());
  EXPECT_EQ(infos[0].metadata_size, meta.size());
  EXPECT_EQ(infos[0].creator_pid, getpid());
  EXPECT_EQ(infos[0].pins, 1);

  Stats stats = store.GetStats();
  EXPECT_EQ(stats.capacity, 16u << 20);
  EXPECT_EQ(stats.objects, 1u);
  EXPECT_EQ(stats.sealed_objects, 1u);
  EXPECT_GE(stats.bytes_used, data.size() + meta.size());

  view.Release();
  store.Delete(id);
  EXPECT_FALSE(store.Contains(id));
  EXPECT_EQ(store.GetStats().objects, 0u);
  EXPECT_EQ(store.GetStats().bytes_used, 0u);
}

TEST_F(StoreTest, BuilderWritesInPlace) {
  Store store = Make();
  ObjectId id = MakeId(2);
  ObjectBuilder b = store.CreateObject(id, 4096, 16);
  EXPECT_EQ(b.data_size(), 4096u);
  EXPECT_EQ(b.metadata_size(), 16u);
  Fill(b.data(), 4096, 1);
  Fill(b.metadata(), 16, 2);
  // Invisible until sealed.
  EXPECT_FALSE(store.Contains(id));
  EXPECT_THROW(store.GetOne(id, 0), StoreTimeoutError);
  b.Seal();
  EXPECT_TRUE(b.sealed());
  ObjectView v = store.GetOne(id, 0);
  EXPECT_EQ(Mismatch(v.data(), v.size(), 1), -1);
  EXPECT_EQ(Mismatch(v.metadata(), v.metadata_size(), 2), -1);
}

TEST_F(StoreTest, EmptyObjects) {
  Store store = Make();
  store.Put(MakeId(1), nullptr, 0);
  ObjectView v = store.GetOne(MakeId(1), 0);
  EXPECT_EQ(v.size(), 0u);
  EXPECT_EQ(v.metadata_size(), 0u);
  EXPECT_TRUE(v.Data().empty());
  std::string meta = "only metadata";
  store.Put(MakeId(2), nullptr, 0, meta.data(), meta.size());
  ObjectView m = store.GetOne(MakeId(2), 0);
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.metadata()), m.metadata_size()), meta);
}

TEST_F(StoreTest, GetManyKeepsOrderAndReportsMissing) {
  Store store = Make();
  for (uint64_t i = 0; i < 5; ++i) {
    std::vector<uint8_t> d = Bytes(100 + i, i);
    store.Put(MakeId(i), d.data(), d.size());
  }
  std::vector<ObjectId> ids = {MakeId(3), MakeId(99), MakeId(0), MakeId(4)};
  std::vector<std::optional<ObjectView>> views = store.Get(ids, 0);
  ASSERT_EQ(views.size(), 4u);
  ASSERT_TRUE(views[0].has_value());
  EXPECT_FALSE(views[1].has_value());
  ASSERT_TRUE(views[2].has_value());
  ASSERT_TRUE(views[3].has_value());
  EXPECT_EQ(views[0]->size(), 103u);
  EXPECT_EQ(Mismatch(views[0]->data(), 103, 3), -1);
  EXPECT_EQ(Mismatch(views[2]->data(), 100, 0), -1);
  EXPECT_EQ(Mismatch(views[3]->data(), 104, 4), -1);
  EXPECT_EQ(store.GetStats().pinned_objects, 3u);
  views.clear();
  EXPECT_EQ(store.GetStats().pinned_objects, 0u);
  EXPECT_TRUE(store.Get({}, 0).empty());
}

TEST_F(StoreTest, GetWaitsForSealByAnotherThread) {
  Store store = Make();
  ObjectId id = MakeId(9);
  ObjectBuilder b = store.CreateObject(id, 8);
  std::memcpy(b.data(), "abcdefgh", 8);
  std::thread sealer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    b.Seal();
  });
  auto start = std::chrono::steady_clock::now();
  ObjectView v = store.GetOne(id, 10000);
  auto waited = std::chrono::steady_clock::now() - start;
  sealer.join();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.data()), 8), "abcdefgh");
  EXPECT_GE(waited, std::chrono::milliseconds(50));
  EXPECT_LT(waited, std::chrono::milliseconds(5000));
}

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

// ------------------------------------------------------------ zero copy

TEST_F(StoreTest, ViewsPointIntoTheSharedMapping) {
  Store store = Make();
  ObjectId id = MakeId(3);
  ObjectBuilder b = store.CreateObject(id, 1 << 20);
  uint8_t* written = b.data();
  Fill(written, 1 << 20, 3);
  b.Seal();

  ObjectView v = store.GetOne(id, 0);
  EXPECT_EQ(v.data(), written) << "the view is not the builder's memory: a copy was made";
  std::string mapping = MappingOf(v.data());
  EXPECT_TRUE(HasText(mapping, "/dev/shm" + name_)) << "view not inside the store mapping";
  // The whole object lies in that one mapping.
  EXPECT_EQ(MappingOf(v.data() + v.size() - 1), mapping);

  // A second handle maps the segment elsewhere and sees the same bytes.
  Store other = Store::Open(name_);
  ObjectView w = other.GetOne(id, 0);
  EXPECT_TRUE(HasText(MappingOf(w.data()), "/dev/shm" + name_));
  EXPECT_EQ(w.size(), v.size());
  EXPECT_EQ(std::memcmp(w.data(), v.data(), v.size()), 0);
}

// ----------------------------------------------------------------- pins

TEST_F(StoreTest, ViewReleasesItsPinOnDestruction) {
  Store store = Make();
  ObjectId id = MakeId(4);
  store.Put(id, "x", 1);
  EXPECT_EQ(store.GetStats().pinned_objects, 0u);
  {
    ObjectView v = store.GetOne(id, 0);
    EXPECT_EQ(store.GetStats().pinned_objects, 1u);
    ObjectView moved = std::move(v);  // the pin moves, it is not doubled
    EXPECT_FALSE(v.valid());
    EXPECT_TRUE(moved.valid());
    EXPECT_EQ(store.List().at(0).pins, 1);
  }
  EXPECT_EQ(store.GetStats().pinned_objects, 0u);
  EXPECT_EQ(store.List().at(0).pins, 0);

  // Two views, two pins; Release is idempotent.
  ObjectView a = store.GetOne(id, 0);
  ObjectView b = store.GetOne(id, 0);
  EXPECT_EQ(store.List().at(0).pins, 2);
  a.Release();
  a.Release();
  EXPECT_EQ(store.List().at(0).pins, 1);
  b = std::move(a);  // assigning releases b's pin
  EXPECT_EQ(store.List().at(0).pins, 0);
}

TEST_F(StoreTest, ViewInsideSharedPtr) {
  Store store = Make();
  ObjectId id = MakeId(5);
  store.Put(id, "shared", 6);
  auto first = std::make_shared<ObjectView>(store.GetOne(id, 0));
  std::shared_ptr<const ObjectView> second = first;
  EXPECT_EQ(store.GetStats().pinned_objects, 1u);
  first.reset();
  EXPECT_EQ(store.GetStats().pinned_objects, 1u);
  EXPECT_EQ(std::memcmp(second->data(), "shared", 6), 0);
  second.reset();
  EXPECT_EQ(store.GetStats().pinned_objects, 0u);
}

TEST_F(StoreTest, ViewOutlivesItsStore) {
  std::optional<ObjectView> view;
  {
    Store store = Make();
    store.Put(MakeId(6), "still mapped", 12);
    view.emplace(store.GetOne(MakeId(6), 0));
  }
  // The Store is gone but the view keeps the mapping (and its pin).
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(view->data()), 12), "still mapped");
  Store again = Store::Open(name_);
  EXPECT_EQ(again.GetStats().pinned_objects, 1u);
  view.reset();
  EXPECT_EQ(again.GetStats().pinned_objects, 0u);
}

TEST_F(StoreTest, DeleteOfPinnedObjectIsDeferred) {
  Store store = Make();
  ObjectId id = MakeId(7);
  std::vector<uint8_t> d = Bytes(3000, 7);
  store.Put(id, d.data(), d.size());
  ObjectView v = store.GetOne(id, 0);
  store.Delete(id);
  // Readers holding a pin keep valid bytes.
  EXPECT_EQ(Mismatch(v.data(), v.size(), 7), -1);
  std::vector<ObjectInfo> infos = store.List();
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_TRUE(infos[0].delete_pending);
  v.Release();
  EXPECT_FALSE(store.Contains(id));
  EXPECT_EQ(store.GetStats().objects, 0u);
  EXPECT_EQ(store.GetStats().bytes_used, 0u);
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

// -------------------------------------------------------------- builder

TEST_F(StoreTest, BuilderDestroyedUnsealedAborts) {
  Store store = Make();
  ObjectId id = MakeId(8);
  {
    ObjectBuilder b = store.CreateObject(id, 50000, 10);
    EXPECT_EQ(store.GetStats().objects, 1u);
    EXPECT_GE(store.GetStats().bytes_used, 50010u);
  }
  EXPECT_EQ(store.GetStats().objects, 0u);
  EXPECT_EQ(store.GetStats().bytes_used, 0u);

  // The usual way it happens: the writer throws between create and seal.
  try {
    ObjectBuilder b = store.CreateObject(id, 1000);
    std::memset(b.data(), 1, 1000);
    throw std::runtime_error("serializer failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(store.GetStats().objects, 0u);
  EXPECT_FALSE(store.Contains(id));

  // A builder assigned over aborts its object too.
  ObjectBuilder b = store.CreateObject(id, 10);
  b = store.CreateObject(MakeId(9), 10);
  EXPECT_EQ(store.GetStats().objects, 1u);
  EXPECT_EQ(store.List().at(0).id, MakeId(9));

  // The id is free again.
  store.Put(id, "ok", 2);
  EXPECT_TRUE(store.Contains(id));
}

TEST_F(StoreTest, BuilderMisuseThrows) {
  Store store = Make();
  ObjectId id = MakeId(11);
  ObjectBuilder b = store.CreateObject(id, 10);
  b.Seal();
  try {
    b.Seal();
    FAIL() << "double seal did not throw";
  } catch (const ObjectSealedError& e) {
    EXPECT_EQ(e.status(), StoreStatus::kSealed);
    EXPECT_TRUE(HasText(e.what(), id.Hex()));
  }
  try {
    b.data();
    FAIL() << "data() after Seal did not throw";
  } catch (const ObjectSealedError& e) {
    EXPECT_TRUE(HasText(e.what(), "data()"));
    EXPECT_TRUE(HasText(e.what(), "sealed"));
  }
  EXPECT_THROW(b.metadata(), ObjectSealedError);
  EXPECT_THROW(b.Abort(), ObjectSealedError);
  EXPECT_TRUE(store.Contains(id));  // nothing above hurt the sealed object

  ObjectBuilder c = store.CreateObject(MakeId(12), 10);
  c.Abort();
  c.Abort();  // no-op
  EXPECT_THROW(c.data(), ObjectNotFoundError);
  EXPECT_THROW(c.Seal(), ObjectNotFoundError);

  ObjectBuilder d = store.CreateObject(MakeId(13), 10);
  ObjectBuilder e = std::move(d);
  EXPECT_THROW(d.data(), InvalidArgumentError);
  e.Seal();
}

TEST_F(StoreTest, CLibraryRejectsDoubleSeal) {
  // The wrapper catches a double seal itself; the C library must too.
  Store store = Make();
  ObjectId id = MakeId(14);
  store.Put(id, "a", 1);
  EXPECT_EQ(prs_seal(store.native_handle(), id.data()), PRS_ERR_SEALED);
  EXPECT_TRUE(HasText(prs_last_error(), id.Hex()));
  EXPECT_EQ(prs_abort(store.native_handle(), id.data()), PRS_ERR_SEALED);
  EXPECT_EQ(prs_seal(store.native_handle(), MakeId(15).data()), PRS_ERR_NOT_FOUND);
}

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

// ------------------------------------------------------------ bad input

TEST_F(StoreTest, UnknownIdErrorsNameTheId) {
  Store store = Make();
  ObjectId unknown = MakeId(404);
  EXPECT_FALSE(store.Contains(unknown));
  try {
    store.GetOne(unknown, 0);
    FAIL() << "no exception";
  } catch (const StoreTimeoutError& e) {
    EXPECT_EQ(e.status(), StoreStatus::kTimeout);
    EXPECT_TRUE(HasText(e.what(), unknown.Hex()));
  }
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(store.GetOne(unknown, 100), StoreTimeoutError);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90));
  try {
    store.Delete(unknown);
    FAIL() << "no exception";
  } catch (const ObjectNotFoundError& e) {
    EXPECT_EQ(e.status(), StoreStatus::kNotFound);
    EXPECT_TRUE(HasText(e.what(), unknown.Hex()));
  }
  EXPECT_EQ(prs_release(store.native_handle(), unknown.data()), PRS_ERR_NOT_FOUND);
}

TEST_F(StoreTest, ObjectStateErrors) {
  Store store = Make();
  ObjectId id = MakeId(1);
  store.Put(id, "a", 1);
  try {
    store.Put(id, "b", 1);
    FAIL() << "no exception";
  } catch (const ObjectExistsError& e) {
    EXPECT_EQ(e.status(), StoreStatus::kExists);
    EXPECT_TRUE(HasText(e.what(), id.Hex()));
  }
  ObjectBuilder b = store.CreateObject(MakeId(2), 1);
  EXPECT_THROW(store.Delete(MakeId(2)), ObjectNotSealedError);
  EXPECT_EQ(prs_release(store.native_handle(), id.data()), PRS_ERR_NOT_PINNED);
  try {
    store.Put(MakeId(3), nullptr, 5);
    FAIL() << "no exception";
  } catch (const InvalidArgumentError& e) {
    EXPECT_TRUE(HasText(e.what(), "null"));
  }
}

TEST_F(StoreTest, MissingSegment) {
  try {
    Store::Open(name_);
    FAIL() << "no exception";
  } catch (const SegmentNotFoundError& e) {
    EXPECT_EQ(e.status(), StoreStatus::kNoSegment);
    EXPECT_TRUE(HasText(e.what(), name_));
  }
  EXPECT_THROW(Store::Unlink(name_), SegmentNotFoundError);
}

TEST_F(StoreTest, SegmentThatExists) {
  Store store = Make();
  try {
    Store::Create(name_, 1 << 20);
    FAIL() << "no exception";
  } catch (const SegmentExistsError& e) {
    EXPECT_EQ(e.status(), StoreStatus::kExists);
    EXPECT_TRUE(HasText(e.what(), name_));
  }
  EXPECT_THROW(Store::Create(name_, 1 << 20), ObjectExistsError);  // as in Python
  // The failed create did not hurt the existing store.
  store.Put(MakeId(1), "x", 1);
  EXPECT_TRUE(Store::Open(name_).Contains(MakeId(1)));
}

TEST_F(StoreTest, CapacityThatCannotBeMapped) {
  try {
    Store::Create(name_, 1ull << 60);
    FAIL() << "no exception";
  } catch (const StoreMemoryError& e) {
    EXPECT_EQ(e.status(), StoreStatus::kNoMemory);
    EXPECT_TRUE(HasText(e.what(), std::to_string(1ull << 60)));
  }
  // Nothing is left behind under that name.
  EXPECT_THROW(Store::Open(name_), SegmentNotFoundError);
}

TEST_F(StoreTest, BadSegmentNames) {
  EXPECT_THROW(Store::Create("no-leading-slash", 1 << 20), InvalidArgumentError);
  EXPECT_THROW(Store::Create("/two/slashes", 1 << 20), InvalidArgumentError);
  EXPECT_THROW(Store::Create(std::string("/nul\0byte", 9), 1 << 20), InvalidArgumentError);
  EXPECT_THROW(Store::Open(""), InvalidArgumentError);
}

TEST_F(StoreTest, SegmentThatIsNotAStore) {
  extra_name_ = UniqueName("junk");
  int fd = shm_open(extra_name_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  ASSERT_GE(fd, 0) << strerror(errno);
  std::string junk(1 << 16, 'j');
  ASSERT_EQ(write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  close(fd);
  try {
    Store::Open(extra_name_);
    FAIL() << "no exception";
  } catch (const BadSegmentError& e) {
    EXPECT_EQ(e.status(), StoreStatus::kBadSegment);
    EXPECT_TRUE(HasText(e.what(), extra_name_));
  }
}

TEST_F(StoreTest, MovedFromStoreIsClosed) {
  Store store = Make();
  Store other = std::move(store);
  try {
    store.Contains(MakeId(1));
    FAIL() << "no exception";
  } catch (const StoreClosedError& e) {
    EXPECT_TRUE(HasText(e.what(), "moved from"));
  }
  EXPECT_THROW(store.CreateObject(MakeId(1), 1), StoreClosedError);
  EXPECT_FALSE(other.Contains(MakeId(1)));
}

}  // namespace
}  // namespace polyray

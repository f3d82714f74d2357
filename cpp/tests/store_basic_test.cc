// store_basic_test.cc — ObjectId, round trips, zero-copy views, pins
// and the object builder, all within one process.
// Shared helpers and the StoreTest fixture: store_test_util.h.

#include "store_test_util.h"

namespace polyray {
namespace {

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

// ------------------------------------------------------------- prefault

// Bytes the kernel has allocated to the segment's tmpfs file.
uint64_t Resident(const std::string& name) {
  struct stat st {};
  EXPECT_EQ(stat(("/dev/shm" + name).c_str(), &st), 0);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

TEST_F(StoreTest, PrefaultMakesItsRangeResidentAndKeepsBytes) {
  Store store = Make(32 << 20);
  ObjectId id = MakeId(7);
  const std::string text = "kept";
  store.Put(id, text.data(), text.size());
  uint64_t before = Resident(name_);
  EXPECT_EQ(store.Prefault(0, 8 << 20), 8u << 20);
  EXPECT_GE(Resident(name_) - before, (8u << 20) - 4096);
  EXPECT_EQ(store.Prefault(0, 1ull << 40), 32u << 20);  // clamped to the region
  EXPECT_EQ(store.Prefault(32 << 20, 4096), 0u);         // past the end
  ObjectView v = store.GetOne(id, 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.data()), v.size()), text);
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

}  // namespace
}  // namespace polyray

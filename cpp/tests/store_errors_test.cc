// store_errors_test.cc — bad input and the errors it raises.
// Shared helpers and the StoreTest fixture: store_test_util.h.

#include "store_test_util.h"

namespace polyray {
namespace {

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

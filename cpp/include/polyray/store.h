// polyray/store.h — C++ RAII wrapper over the node's shared-memory object store
// (the C library in bridge/, header polyray_store.h).
//
// Invariants:
//   - Every failure of the C library becomes a polyray::StoreError subclass
//     chosen by its status, whose what() carries prs_last_error()'s message;
//     no status code is ever dropped silently (destructors excepted: they
//     cannot throw and only undo what their object did).
//   - The mapping outlives every pointer into it: Store, ObjectBuilder and
//     ObjectView share ownership of the C handle, which is closed when the
//     last of them is destroyed. A view is never left pointing at unmapped
//     memory because its Store went out of scope first.
//   - One ObjectView holds exactly one pin and drops it exactly once (on
//     destruction or Release()); moved-from views hold none. Pins belong to
//     a process: a view or builder inherited through fork() is inert in the
//     child (its release or abort would act on the child's own pins).
//   - An ObjectBuilder that is destroyed while unsealed aborts its object,
//     so an exception between create and seal never leaks an unsealed
//     object (which would be invisible to readers and hold its bytes).
//   - Data pointers are views of shared memory: nothing here copies object
//     bytes except Put, which copies the caller's buffer in once.
//   - This header does not include the C header, so SDK users need only
//     cpp/include on their include path; store.cc checks that the mirrored
//     constants match the C ones.
#ifndef POLYRAY_STORE_H_
#define POLYRAY_STORE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct prs_store;  // the C handle (bridge/include/polyray_store.h)

namespace polyray {

// Size of an object id in bytes (PRS_OBJECT_ID_SIZE, the protocol's ObjectID).
inline constexpr size_t kObjectIdSize = 28;

// A read-only view of contiguous bytes (C++17 has no std::span). It does not
// own its bytes; whoever handed it out says how long it stays valid.
class ByteSpan {
 public:
  constexpr ByteSpan() noexcept = default;
  constexpr ByteSpan(const uint8_t* data, size_t size) noexcept : data_(data), size_(size) {}

  constexpr const uint8_t* data() const noexcept { return data_; }
  constexpr size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr const uint8_t* begin() const noexcept { return data_; }
  constexpr const uint8_t* end() const noexcept { return data_ + size_; }
  constexpr const uint8_t& operator[](size_t i) const noexcept { return data_[i]; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Status codes of the C library (values equal to prs_status).
enum class StoreStatus : int {
  kOk = 0,
  kInvalid = 1,
  kIdLength = 2,
  kNotFound = 3,
  kExists = 4,
  kSealed = 5,
  kNotSealed = 6,
  kFull = 7,
  kTimeout = 8,
  kClosed = 9,
  kNoSegment = 10,
  kNoMemory = 11,
  kTableFull = 12,
  kNotPinned = 13,
  kBadSegment = 14,
  kSystem = 15,
};

// Base of every store failure. what() names the operation and what was wrong.
// (Destructors are defined in libpolyray so each class has one typeinfo,
// which a catch in another library or program matches.)
class StoreError : public std::runtime_error {
 public:
  StoreError(StoreStatus status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  ~StoreError() override;
  StoreStatus status() const noexcept { return status_; }

 private:
  StoreStatus status_;
};

// One subclass per status a caller may want to handle on its own; the names
// match polyray.store's Python exceptions.
#define POLYRAY_STORE_ERROR(Name, Base, Status)                          \
  class Name : public Base {                                             \
   public:                                                               \
    explicit Name(const std::string& message) : Base(Status, message) {} \
    ~Name() override;                                                    \
                                                                         \
   protected:                                                            \
    Name(StoreStatus status, const std::string& message)                 \
        : Base(status, message) {}                                       \
  }
POLYRAY_STORE_ERROR(InvalidArgumentError, StoreError, StoreStatus::kInvalid);
POLYRAY_STORE_ERROR(InvalidObjectIdError, StoreError, StoreStatus::kIdLength);
POLYRAY_STORE_ERROR(ObjectNotFoundError, StoreError, StoreStatus::kNotFound);
POLYRAY_STORE_ERROR(ObjectExistsError, StoreError, StoreStatus::kExists);
// Store::Create of a name in use; also an ObjectExistsError, as in Python.
POLYRAY_STORE_ERROR(SegmentExistsError, ObjectExistsError, StoreStatus::kExists);
POLYRAY_STORE_ERROR(ObjectSealedError, StoreError, StoreStatus::kSealed);
POLYRAY_STORE_ERROR(ObjectNotSealedError, StoreError, StoreStatus::kNotSealed);
POLYRAY_STORE_ERROR(StoreFullError, StoreError, StoreStatus::kFull);
POLYRAY_STORE_ERROR(StoreTimeoutError, StoreError, StoreStatus::kTimeout);
POLYRAY_STORE_ERROR(StoreClosedError, StoreError, StoreStatus::kClosed);
POLYRAY_STORE_ERROR(SegmentNotFoundError, StoreError, StoreStatus::kNoSegment);
POLYRAY_STORE_ERROR(StoreMemoryError, StoreError, StoreStatus::kNoMemory);
POLYRAY_STORE_ERROR(TableFullError, StoreError, StoreStatus::kTableFull);
POLYRAY_STORE_ERROR(NotPinnedError, StoreError, StoreStatus::kNotPinned);
POLYRAY_STORE_ERROR(BadSegmentError, StoreError, StoreStatus::kBadSegment);
POLYRAY_STORE_ERROR(StoreSystemError, StoreError, StoreStatus::kSystem);
#undef POLYRAY_STORE_ERROR

// An object id: exactly kObjectIdSize raw bytes.
class ObjectId {
 public:
  ObjectId() noexcept : bytes_{} {}  // all zero
  // Throws InvalidObjectIdError naming the expected and actual lengths.
  static ObjectId FromBinary(const void* data, size_t size);
  static ObjectId FromBinary(const std::string& binary) {
    return FromBinary(binary.data(), binary.size());
  }
  // Throws InvalidObjectIdError (wrong length) or InvalidArgumentError (not hex).
  static ObjectId FromHex(const std::string& hex);

  const uint8_t* data() const noexcept { return bytes_.data(); }
  static constexpr size_t size() noexcept { return kObjectIdSize; }
  std::string Binary() const { return std::string(bytes_.begin(), bytes_.end()); }
  std::string Hex() const;  // lower case, 2 * kObjectIdSize characters

  bool operator==(const ObjectId& o) const noexcept { return bytes_ == o.bytes_; }
  bool operator!=(const ObjectId& o) const noexcept { return bytes_ != o.bytes_; }
  bool operator<(const ObjectId& o) const noexcept { return bytes_ < o.bytes_; }

 private:
  std::array<uint8_t, kObjectIdSize> bytes_;
};

struct ObjectInfo {
  ObjectId id;
  uint64_t data_size = 0;
  uint64_t metadata_size = 0;
  bool sealed = false;
  int32_t creator_pid = 0;
  int64_t pins = 0;  // over all processes
  bool delete_pending = false;
};

struct Stats {
  uint64_t capacity = 0;
  uint64_t bytes_used = 0;
  uint64_t objects = 0;
  uint64_t sealed_objects = 0;
  uint64_t pinned_objects = 0;
  uint64_t evictions = 0;
  uint64_t recoveries = 0;
};

struct ReclaimResult {
  uint64_t pins_dropped = 0;
  uint64_t objects_aborted = 0;
  uint64_t bytes_freed = 0;
};

namespace detail {
class StoreHandle;  // owns the prs_store*, closes it on destruction
}

// A pinned, read-only view of a sealed object in shared memory. Move-only;
// drops its pin when destroyed. To share one pin, hold it in a shared_ptr
// (std::make_shared<ObjectView>(std::move(view))).
class ObjectView {
 public:
  ObjectView(ObjectView&& other) noexcept;
  ObjectView& operator=(ObjectView&& other) noexcept;
  ObjectView(const ObjectView&) = delete;
  ObjectView& operator=(const ObjectView&) = delete;
  ~ObjectView();

  const ObjectId& id() const noexcept { return id_; }
  const uint8_t* data() const noexcept { return data_; }
  uint64_t size() const noexcept { return size_; }
  const uint8_t* metadata() const noexcept { return metadata_; }
  uint64_t metadata_size() const noexcept { return metadata_size_; }
  ByteSpan Data() const noexcept { return ByteSpan(data_, static_cast<size_t>(size_)); }
  ByteSpan Metadata() const noexcept {
    return ByteSpan(metadata_, static_cast<size_t>(metadata_size_));
  }
  // True until the pin is dropped (by Release or by moving from this view).
  bool valid() const noexcept { return handle_ != nullptr; }
  // Drop the pin now; the pointers must not be used afterwards. Idempotent.
  void Release() noexcept;

 private:
  friend class Store;
  ObjectView(std::shared_ptr<detail::StoreHandle> handle, const ObjectId& id,
             const uint8_t* data, uint64_t size, const uint8_t* metadata,
             uint64_t metadata_size) noexcept;

  std::shared_ptr<detail::StoreHandle> handle_;
  ObjectId id_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  const uint8_t* metadata_ = nullptr;
  uint64_t metadata_size_ = 0;
  uint64_t fork_generation_ = 0;  // of the process that took the pin
};

// An object being created: write data() and metadata(), then Seal(). Move-only.
// Destroyed without Seal() => the object is aborted.
class ObjectBuilder {
 public:
  ObjectBuilder(ObjectBuilder&& other) noexcept;
  ObjectBuilder& operator=(ObjectBuilder&& other) noexcept;
  ObjectBuilder(const ObjectBuilder&) = delete;
  ObjectBuilder& operator=(const ObjectBuilder&) = delete;
  ~ObjectBuilder();

  const ObjectId& id() const noexcept { return id_; }
  // Writable bytes; throw ObjectSealedError after Seal(), ObjectNotFoundError
  // after Abort().
  uint8_t* data();
  uint8_t* metadata();
  uint64_t data_size() const noexcept { return data_size_; }
  uint64_t metadata_size() const noexcept { return metadata_size_; }
  bool sealed() const noexcept { return state_ == State::kSealed; }

  // Make the object immutable and visible to readers. Throws
  // ObjectSealedError on a second call, ObjectNotFoundError after Abort().
  void Seal();
  // Drop the object. Throws ObjectSealedError after Seal(); a second Abort is
  // a no-op.
  void Abort();

 private:
  friend class Store;
  enum class State { kOpen, kSealed, kAborted, kMoved };
  ObjectBuilder(std::shared_ptr<detail::StoreHandle> handle, const ObjectId& id,
                uint8_t* data, uint64_t data_size, uint8_t* metadata,
                uint64_t metadata_size) noexcept;
  void CheckWritable(const char* what) const;
  void AbortIfOwned() noexcept;

  std::shared_ptr<detail::StoreHandle> handle_;
  ObjectId id_;
  uint8_t* data_ = nullptr;
  uint64_t data_size_ = 0;
  uint8_t* metadata_ = nullptr;
  uint64_t metadata_size_ = 0;
  State state_ = State::kMoved;
  uint64_t fork_generation_ = 0;  // of the process that created the object
};

// A process's handle on a node's store segment. Move-only; a moved-from
// Store throws StoreClosedError. Thread-safe like the C handle.
class Store {
 public:
  // Create a new segment ("/polyray-..."). SegmentExistsError if it exists,
  // StoreMemoryError if the capacity cannot be mapped.
  static Store Create(const std::string& name, uint64_t capacity);
  // Map an existing segment. SegmentNotFoundError, BadSegmentError.
  static Store Open(const std::string& name);
  // Remove the segment's name; processes that mapped it keep their mapping.
  static void Unlink(const std::string& name);

  Store(Store&&) noexcept = default;
  Store& operator=(Store&&) noexcept = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store() = default;  // the handle closes when its last view/builder is gone

  const std::string& name() const noexcept { return name_; }

  ObjectBuilder CreateObject(const ObjectId& id, uint64_t data_size,
                             uint64_t metadata_size = 0);
  // Create, copy in and seal in one step.
  void Put(const ObjectId& id, const void* data, size_t size,
           const void* metadata = nullptr, size_t metadata_size = 0);

  // One entry per id, in order: a pinned view, or nullopt for an object not
  // sealed within timeout_ms (0: do not wait; < 0: wait forever).
  std::vector<std::optional<ObjectView>> Get(const std::vector<ObjectId>& ids,
                                             int64_t timeout_ms);
  // Throws StoreTimeoutError when the object is not sealed in time.
  ObjectView GetOne(const ObjectId& id, int64_t timeout_ms);

  bool Contains(const ObjectId& id);  // exists and is sealed
  // Delete a sealed object now, or when its last pin is released.
  void Delete(const ObjectId& id);
  std::vector<ObjectInfo> List();
  Stats GetStats();
  // Evict least-recently-used unpinned sealed objects; returns bytes freed.
  uint64_t Evict(uint64_t bytes);
  // Make the data region's pages [offset, offset + length) resident and
  // mapped in this process (prs_prefault); never changes a byte, takes no
  // lock. Returns the bytes covered (0 past the end).
  uint64_t Prefault(uint64_t offset, uint64_t length);
  // Drop the pins and unsealed objects of a dead process.
  ReclaimResult Reclaim(int32_t pid);

  // The C handle, for calls the wrapper does not cover (tests, bindings).
  // Valid while this Store is alive; do not close it.
  prs_store* native_handle() const;

 private:
  Store(std::shared_ptr<detail::StoreHandle> handle, std::string name) noexcept
      : handle_(std::move(handle)), name_(std::move(name)) {}
  prs_store* raw(const char* op) const;

  std::shared_ptr<detail::StoreHandle> handle_;
  std::string name_;
};

}  // namespace polyray

namespace std {
template <>
struct hash<polyray::ObjectId> {
  size_t operator()(const polyray::ObjectId& id) const noexcept {
    // FNV-1a over every byte: ids of one task share a prefix.
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < polyray::kObjectIdSize; ++i) {
      h = (h ^ id.data()[i]) * 1099511628211ull;
    }
    return static_cast<size_t>(h);
  }
};
}  // namespace std

#endif  // POLYRAY_STORE_H_

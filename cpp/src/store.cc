// store.cc — polyray::Store and friends over the C store (polyray_store.h).
//
// Invariants:
//   - Every C call's status is checked; a failure is turned into an exception
//     at once, reading prs_last_error() before any other C call on this
//     thread can overwrite it.
//   - Pins are taken only by prs_get and dropped only by ObjectView (one
//     prs_release per found view), so the pins this process holds equal the
//     live views it has.
//   - Nothing that can throw runs between a C call that hands out a pin or an
//     unsealed object and the wrapper object that owns it (buffers are
//     allocated before the call).
//   - detail::StoreHandle closes the C handle exactly once, after every view
//     and builder using it is gone.
//   - A view or builder acts on the store (release, abort) only in the
//     process that made it: ForkGeneration() changes in every fork child.
#include "polyray/store.h"

#include <pthread.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <utility>

#include "polyray_store.h"

namespace polyray {

// The public header mirrors these so SDK users need not see the C header.
static_assert(kObjectIdSize == PRS_OBJECT_ID_SIZE, "object id size differs from the C store");
#define POLYRAY_CHECK_STATUS(E, C) \
  static_assert(static_cast<int>(StoreStatus::E) == C, #E " differs from " #C)
POLYRAY_CHECK_STATUS(kOk, PRS_OK);
POLYRAY_CHECK_STATUS(kInvalid, PRS_ERR_INVALID);
POLYRAY_CHECK_STATUS(kIdLength, PRS_ERR_ID_LENGTH);
POLYRAY_CHECK_STATUS(kNotFound, PRS_ERR_NOT_FOUND);
POLYRAY_CHECK_STATUS(kExists, PRS_ERR_EXISTS);
POLYRAY_CHECK_STATUS(kSealed, PRS_ERR_SEALED);
POLYRAY_CHECK_STATUS(kNotSealed, PRS_ERR_NOT_SEALED);
POLYRAY_CHECK_STATUS(kFull, PRS_ERR_FULL);
POLYRAY_CHECK_STATUS(kTimeout, PRS_ERR_TIMEOUT);
POLYRAY_CHECK_STATUS(kClosed, PRS_ERR_CLOSED);
POLYRAY_CHECK_STATUS(kNoSegment, PRS_ERR_NO_SEGMENT);
POLYRAY_CHECK_STATUS(kNoMemory, PRS_ERR_NO_MEMORY);
POLYRAY_CHECK_STATUS(kTableFull, PRS_ERR_TABLE_FULL);
POLYRAY_CHECK_STATUS(kNotPinned, PRS_ERR_NOT_PINNED);
POLYRAY_CHECK_STATUS(kBadSegment, PRS_ERR_BAD_SEGMENT);
POLYRAY_CHECK_STATUS(kSystem, PRS_ERR_SYSTEM);
#undef POLYRAY_CHECK_STATUS

// Key functions of the error classes (see store.h).
StoreError::~StoreError() = default;
InvalidArgumentError::~InvalidArgumentError() = default;
InvalidObjectIdError::~InvalidObjectIdError() = default;
ObjectNotFoundError::~ObjectNotFoundError() = default;
ObjectExistsError::~ObjectExistsError() = default;
SegmentExistsError::~SegmentExistsError() = default;
ObjectSealedError::~ObjectSealedError() = default;
ObjectNotSealedError::~ObjectNotSealedError() = default;
StoreFullError::~StoreFullError() = default;
StoreTimeoutError::~StoreTimeoutError() = default;
StoreClosedError::~StoreClosedError() = default;
SegmentNotFoundError::~SegmentNotFoundError() = default;
StoreMemoryError::~StoreMemoryError() = default;
TableFullError::~TableFullError() = default;
NotPinnedError::~NotPinnedError() = default;
BadSegmentError::~BadSegmentError() = default;
StoreSystemError::~StoreSystemError() = default;

namespace detail {

class StoreHandle {
 public:
  StoreHandle(prs_store* store, std::string name) noexcept
      : store_(store), name_(std::move(name)) {}
  // drop_pins=1: by now no view is alive, so any pin left would be a leak.
  ~StoreHandle() { prs_store_close(store_, 1); }
  StoreHandle(const StoreHandle&) = delete;
  StoreHandle& operator=(const StoreHandle&) = delete;

  prs_store* get() const noexcept { return store_; }
  const std::string& name() const noexcept { return name_; }

 private:
  prs_store* const store_;
  const std::string name_;
};

}  // namespace detail

namespace {

// EXISTS means a different thing for a segment than for an object.
enum class Subject { kObject, kSegment };

[[noreturn]] void ThrowStatus(int status, const std::string& context,
                              Subject subject = Subject::kObject) {
  const char* detail = prs_last_error();
  std::string message = context + ": ";
  message += (detail != nullptr && detail[0] != '\0') ? detail : prs_status_name(status);
  switch (status) {
    case PRS_ERR_INVALID: throw InvalidArgumentError(message);
    case PRS_ERR_ID_LENGTH: throw InvalidObjectIdError(message);
    case PRS_ERR_NOT_FOUND: throw ObjectNotFoundError(message);
    case PRS_ERR_EXISTS:
      if (subject == Subject::kSegment) throw SegmentExistsError(message);
      throw ObjectExistsError(message);
    case PRS_ERR_SEALED: throw ObjectSealedError(message);
    case PRS_ERR_NOT_SEALED: throw ObjectNotSealedError(message);
    case PRS_ERR_FULL: throw StoreFullError(message);
    case PRS_ERR_TIMEOUT: throw StoreTimeoutError(message);
    case PRS_ERR_CLOSED: throw StoreClosedError(message);
    case PRS_ERR_NO_SEGMENT: throw SegmentNotFoundError(message);
    case PRS_ERR_NO_MEMORY: throw StoreMemoryError(message);
    case PRS_ERR_TABLE_FULL: throw TableFullError(message);
    case PRS_ERR_NOT_PINNED: throw NotPinnedError(message);
    case PRS_ERR_BAD_SEGMENT: throw BadSegmentError(message);
    case PRS_ERR_SYSTEM: throw StoreSystemError(message);
    default:
      // A status this wrapper does not know (a newer C library): keep it.
      throw StoreError(static_cast<StoreStatus>(status),
                       message + " (status " + std::to_string(status) + ")");
  }
}

std::string OnStore(const std::string& op, const std::string& name) {
  return op + " on store '" + name + "'";
}

void CheckSegmentName(const std::string& name, const char* op) {
  // c_str() would silently cut the name at an embedded NUL.
  if (name.find('\0') != std::string::npos) {
    throw InvalidArgumentError(std::string(op) + ": segment name contains a NUL byte");
  }
}

// Bumped in every fork child, so objects made before a fork can tell that
// the pins and unsealed objects they own belong to another process.
std::atomic<uint64_t> fork_generation{0};

uint64_t ForkGeneration() {
  static const bool registered = [] {
    pthread_atfork(nullptr, nullptr,
                   [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
    return true;
  }();
  (void)registered;
  return fork_generation.load(std::memory_order_relaxed);
}

// Owns a freshly created or opened C store; if that fails (out of memory),
// closes the store so it does not leak.
std::shared_ptr<detail::StoreHandle> AdoptHandle(prs_store* raw, const std::string& name) {
  try {
    return std::make_shared<detail::StoreHandle>(raw, name);
  } catch (...) {
    prs_store_close(raw, 1);
    throw;
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// ---------------------------------------------------------------- ObjectId

ObjectId ObjectId::FromBinary(const void* data, size_t size) {
  if (size != kObjectIdSize) {
    throw InvalidObjectIdError("object id must be " + std::to_string(kObjectIdSize) +
                              " bytes, got " + std::to_string(size));
  }
  ObjectId id;
  std::memcpy(id.bytes_.data(), data, kObjectIdSize);
  return id;
}

ObjectId ObjectId::FromHex(const std::string& hex) {
  if (hex.size() != 2 * kObjectIdSize) {
    throw InvalidObjectIdError("object id in hex must be " + std::to_string(2 * kObjectIdSize) +
                              " characters (" + std::to_string(kObjectIdSize) +
                              " bytes), got " + std::to_string(hex.size()));
  }
  ObjectId id;
  for (size_t i = 0; i < kObjectIdSize; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      size_t bad = hi < 0 ? 2 * i : 2 * i + 1;
      throw InvalidArgumentError("object id '" + hex + "' is not hex: character " +
                                 std::to_string(bad) + " is '" + hex[bad] + "'");
    }
    id.bytes_[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return id;
}

std::string ObjectId::Hex() const {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(2 * kObjectIdSize, '0');
  for (size_t i = 0; i < kObjectIdSize; ++i) {
    out[2 * i] = kDigits[bytes_[i] >> 4];
    out[2 * i + 1] = kDigits[bytes_[i] & 0xf];
  }
  return out;
}

// -------------------------------------------------------------- ObjectView

ObjectView::ObjectView(std::shared_ptr<detail::StoreHandle> handle, const ObjectId& id,
                       const uint8_t* data, uint64_t size, const uint8_t* metadata,
                       uint64_t metadata_size) noexcept
    : handle_(std::move(handle)),
      id_(id),
      data_(data),
      size_(size),
      metadata_(metadata),
      metadata_size_(metadata_size),
      fork_generation_(ForkGeneration()) {}

ObjectView::ObjectView(ObjectView&& other) noexcept
    : handle_(std::move(other.handle_)),
      id_(other.id_),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      metadata_(std::exchange(other.metadata_, nullptr)),
      metadata_size_(std::exchange(other.metadata_size_, 0)),
      fork_generation_(other.fork_generation_) {}

ObjectView& ObjectView::operator=(ObjectView&& other) noexcept {
  if (this != &other) {
    Release();
    handle_ = std::move(other.handle_);
    id_ = other.id_;
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    metadata_ = std::exchange(other.metadata_, nullptr);
    metadata_size_ = std::exchange(other.metadata_size_, 0);
    fork_generation_ = other.fork_generation_;
  }
  return *this;
}

ObjectView::~ObjectView() { Release(); }

void ObjectView::Release() noexcept {
  if (handle_ == nullptr) return;
  // Cannot throw from here; a failure means the pin was already dropped
  // (e.g. Reclaim of this pid), which leaves nothing to undo. In a fork
  // child the pin is the parent's: releasing would drop one of the child's.
  if (fork_generation_ == ForkGeneration()) (void)prs_release(handle_->get(), id_.data());
  handle_.reset();
  data_ = nullptr;
  size_ = 0;
  metadata_ = nullptr;
  metadata_size_ = 0;
}

// ----------------------------------------------------------- ObjectBuilder

ObjectBuilder::ObjectBuilder(std::shared_ptr<detail::StoreHandle> handle, const ObjectId& id,
                             uint8_t* data, uint64_t data_size, uint8_t* metadata,
                             uint64_t metadata_size) noexcept
    : handle_(std::move(handle)),
      id_(id),
      data_(data),
      data_size_(data_size),
      metadata_(metadata),
      metadata_size_(metadata_size),
      state_(State::kOpen),
      fork_generation_(ForkGeneration()) {}

ObjectBuilder::ObjectBuilder(ObjectBuilder&& other) noexcept
    : handle_(std::move(other.handle_)),
      id_(other.id_),
      data_(std::exchange(other.data_, nullptr)),
      data_size_(other.data_size_),
      metadata_(std::exchange(other.metadata_, nullptr)),
      metadata_size_(other.metadata_size_),
      state_(std::exchange(other.state_, State::kMoved)),
      fork_generation_(other.fork_generation_) {}

ObjectBuilder& ObjectBuilder::operator=(ObjectBuilder&& other) noexcept {
  if (this != &other) {
    AbortIfOwned();
    handle_ = std::move(other.handle_);
    id_ = other.id_;
    data_ = std::exchange(other.data_, nullptr);
    data_size_ = other.data_size_;
    metadata_ = std::exchange(other.metadata_, nullptr);
    metadata_size_ = other.metadata_size_;
    state_ = std::exchange(other.state_, State::kMoved);
    fork_generation_ = other.fork_generation_;
  }
  return *this;
}

// Unsealed at destruction means the writer gave up (often by throwing):
// abort so the bytes are freed and the id can be created again.
ObjectBuilder::~ObjectBuilder() { AbortIfOwned(); }

void ObjectBuilder::AbortIfOwned() noexcept {
  // In a fork child the object is the parent's, still being written there.
  if (state_ == State::kOpen && fork_generation_ == ForkGeneration()) {
    (void)prs_abort(handle_->get(), id_.data());
  }
}

void ObjectBuilder::CheckWritable(const char* what) const {
  switch (state_) {
    case State::kOpen: return;
    case State::kSealed:
      throw ObjectSealedError(std::string(what) + ": object " + id_.Hex() +
                              " is sealed; its bytes are read-only");
    case State::kAborted:
      throw ObjectNotFoundError(std::string(what) + ": object " + id_.Hex() +
                                " was aborted");
    case State::kMoved:
      throw InvalidArgumentError(std::string(what) + ": the ObjectBuilder was moved from");
  }
}

uint8_t* ObjectBuilder::data() {
  CheckWritable("ObjectBuilder::data()");
  return data_;
}

uint8_t* ObjectBuilder::metadata() {
  CheckWritable("ObjectBuilder::metadata()");
  return metadata_;
}

void ObjectBuilder::Seal() {
  CheckWritable("ObjectBuilder::Seal()");
  int status = prs_seal(handle_->get(), id_.data());
  if (status != PRS_OK) {
    ThrowStatus(status, OnStore("Seal(" + id_.Hex() + ")", handle_->name()));
  }
  state_ = State::kSealed;
  data_ = nullptr;
  metadata_ = nullptr;
  handle_.reset();  // a sealed builder has no more use for the mapping
}

void ObjectBuilder::Abort() {
  if (state_ == State::kAborted) return;
  CheckWritable("ObjectBuilder::Abort()");
  int status = prs_abort(handle_->get(), id_.data());
  // Whatever the C library said, this builder no longer owns the object.
  state_ = State::kAborted;
  data_ = nullptr;
  metadata_ = nullptr;
  std::shared_ptr<detail::StoreHandle> handle = std::move(handle_);
  if (status != PRS_OK) {
    ThrowStatus(status, OnStore("Abort(" + id_.Hex() + ")", handle->name()));
  }
}

// ------------------------------------------------------------------- Store

Store Store::Create(const std::string& name, uint64_t capacity) {
  CheckSegmentName(name, "Store::Create");
  prs_store* raw = nullptr;
  int status = prs_store_create(name.c_str(), capacity, &raw);
  if (status != PRS_OK) {
    ThrowStatus(status,
                "Store::Create('" + name + "', capacity " + std::to_string(capacity) + ")",
                Subject::kSegment);
  }
  return Store(AdoptHandle(raw, name), name);
}

Store Store::Open(const std::string& name) {
  CheckSegmentName(name, "Store::Open");
  prs_store* raw = nullptr;
  int status = prs_store_open(name.c_str(), &raw);
  if (status != PRS_OK) {
    ThrowStatus(status, "Store::Open('" + name + "')", Subject::kSegment);
  }
  return Store(AdoptHandle(raw, name), name);
}

void Store::Unlink(const std::string& name) {
  CheckSegmentName(name, "Store::Unlink");
  int status = prs_store_unlink(name.c_str());
  if (status != PRS_OK) {
    ThrowStatus(status, "Store::Unlink('" + name + "')", Subject::kSegment);
  }
}

prs_store* Store::raw(const char* op) const {
  if (handle_ == nullptr) {
    throw StoreClosedError(std::string(op) + ": the Store was moved from");
  }
  return handle_->get();
}

prs_store* Store::native_handle() const { return raw("Store::native_handle"); }

ObjectBuilder Store::CreateObject(const ObjectId& id, uint64_t data_size,
                                  uint64_t metadata_size) {
  prs_store* store = raw("Store::CreateObject");
  uint8_t* data = nullptr;
  uint8_t* metadata = nullptr;
  int status = prs_create(store, id.data(), data_size, metadata_size, &data, &metadata);
  if (status != PRS_OK) {
    ThrowStatus(status, OnStore("CreateObject(" + id.Hex() + ", data " +
                                    std::to_string(data_size) + " B, metadata " +
                                    std::to_string(metadata_size) + " B)",
                                name_));
  }
  return ObjectBuilder(handle_, id, data, data_size, metadata, metadata_size);
}

void Store::Put(const ObjectId& id, const void* data, size_t size, const void* metadata,
                size_t metadata_size) {
  if ((data == nullptr && size > 0) || (metadata == nullptr && metadata_size > 0)) {
    throw InvalidArgumentError(OnStore("Put(" + id.Hex() + ")", name_) +
                               ": null buffer with a non-zero size");
  }
  ObjectBuilder builder = CreateObject(id, size, metadata_size);
  if (size > 0) std::memcpy(builder.data(), data, size);
  if (metadata_size > 0) std::memcpy(builder.metadata(), metadata, metadata_size);
  builder.Seal();
}

std::vector<std::optional<ObjectView>> Store::Get(const std::vector<ObjectId>& ids,
                                                  int64_t timeout_ms) {
  prs_store* store = raw("Store::Get");
  std::vector<std::optional<ObjectView>> result;
  if (ids.empty()) return result;
  // Allocate everything first: once prs_get returns, pins are held and only
  // non-throwing code may run until each is owned by an ObjectView.
  result.reserve(ids.size());
  std::vector<uint8_t> raw_ids(ids.size() * kObjectIdSize);
  for (size_t i = 0; i < ids.size(); ++i) {
    std::memcpy(&raw_ids[i * kObjectIdSize], ids[i].data(), kObjectIdSize);
  }
  std::vector<prs_view> views(ids.size());  // value-initialized: found == 0
  int status = prs_get(store, raw_ids.data(), ids.size(), timeout_ms, views.data());
  // Own every found view first: prs_get may fail on a later pass (e.g. the
  // handle closed while waiting) with earlier finds still pinned.
  for (size_t i = 0; i < ids.size(); ++i) {
    const prs_view& v = views[i];
    if (v.found) {
      result.emplace_back(
          ObjectView(handle_, ids[i], v.data, v.data_size, v.metadata, v.metadata_size));
    } else {
      result.emplace_back(std::nullopt);
    }
  }
  if (status != PRS_OK && status != PRS_ERR_TIMEOUT) {
    // Unwinding releases the views owned above.
    ThrowStatus(status, OnStore("Get(" + std::to_string(ids.size()) + " ids)", name_));
  }
  return result;
}

ObjectView Store::GetOne(const ObjectId& id, int64_t timeout_ms) {
  prs_store* store = raw("Store::GetOne");
  prs_view view{};
  int status = prs_get(store, id.data(), 1, timeout_ms, &view);
  std::optional<ObjectView> owned;  // see Get: a found view is pinned whatever the status
  if (view.found) {
    owned.emplace(
        ObjectView(handle_, id, view.data, view.data_size, view.metadata, view.metadata_size));
  }
  if (status != PRS_OK || !owned) {
    ThrowStatus(status, OnStore("GetOne(" + id.Hex() + ", timeout " +
                                    std::to_string(timeout_ms) + " ms)",
                                name_));
  }
  return std::move(*owned);
}

bool Store::Contains(const ObjectId& id) {
  int out = 0;
  int status = prs_contains(raw("Store::Contains"), id.data(), &out);
  if (status != PRS_OK) ThrowStatus(status, OnStore("Contains(" + id.Hex() + ")", name_));
  return out != 0;
}

void Store::Delete(const ObjectId& id) {
  int status = prs_delete(raw("Store::Delete"), id.data());
  if (status != PRS_OK) ThrowStatus(status, OnStore("Delete(" + id.Hex() + ")", name_));
}

std::vector<ObjectInfo> Store::List() {
  prs_store* store = raw("Store::List");
  std::vector<prs_object_info> infos(64);
  size_t count = 0;
  // Objects may be created between two calls: grow until everything fits.
  for (;;) {
    int status = prs_list(store, infos.data(), infos.size(), &count);
    if (status != PRS_OK) ThrowStatus(status, OnStore("List()", name_));
    if (count <= infos.size()) break;
    infos.resize(count + count / 4 + 16);
  }
  std::vector<ObjectInfo> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const prs_object_info& in = infos[i];
    ObjectInfo info;
    info.id = ObjectId::FromBinary(in.id, kObjectIdSize);
    info.data_size = in.data_size;
    info.metadata_size = in.metadata_size;
    info.sealed = in.sealed != 0;
    info.creator_pid = in.creator_pid;
    info.pins = in.pins;
    info.delete_pending = in.delete_pending != 0;
    out.push_back(info);
  }
  return out;
}

Stats Store::GetStats() {
  prs_stats in{};
  int status = prs_get_stats(raw("Store::GetStats"), &in);
  if (status != PRS_OK) ThrowStatus(status, OnStore("GetStats()", name_));
  Stats out;
  out.capacity = in.capacity;
  out.bytes_used = in.bytes_used;
  out.objects = in.objects;
  out.sealed_objects = in.sealed_objects;
  out.pinned_objects = in.pinned_objects;
  out.evictions = in.evictions;
  out.recoveries = in.recoveries;
  return out;
}

uint64_t Store::Evict(uint64_t bytes) {
  uint64_t freed = 0;
  int status = prs_evict(raw("Store::Evict"), bytes, &freed);
  if (status != PRS_OK) {
    ThrowStatus(status, OnStore("Evict(" + std::to_string(bytes) + " B)", name_));
  }
  return freed;
}

uint64_t Store::Prefault(uint64_t offset, uint64_t length) {
  uint64_t done = 0;
  int status = prs_prefault(raw("Store::Prefault"), offset, length, &done);
  if (status != PRS_OK) {
    ThrowStatus(status, OnStore("Prefault(" + std::to_string(offset) + ", " + std::to_string(length) + " B)", name_));
  }
  return done;
}

ReclaimResult Store::Reclaim(int32_t pid) {
  prs_reclaim_result in{};
  int status = prs_reclaim(raw("Store::Reclaim"), pid, &in);
  if (status != PRS_OK) {
    ThrowStatus(status, OnStore("Reclaim(pid " + std::to_string(pid) + ")", name_));
  }
  ReclaimResult out;
  out.pins_dropped = in.pins_dropped;
  out.objects_aborted = in.objects_aborted;
  out.bytes_freed = in.bytes_freed;
  return out;
}

}  // namespace polyray

// The get side of a CoreWorker: waits for objects (Get, Wait), fetches
// borrowed ones from their owners (GetObjects, batched and capped per owner
// by the ObjectFetcher; GetObject with `lost`), and turns known entries into
// ValueViews (inline envelopes, or zero-copy views of the node's store; an
// object held on another node is first pulled into this node's store by the
// ObjectPuller, from any of the nodes known to hold a copy). A registered
// borrow of an owner not known dead (OwnerWatch) that is sealed in this
// node's store is read from it without asking the owner (local reads); of
// the rest, a Get of 8 or more copies the plain values in the store while
// the owners are asked and returns a copy only once its owner answers
// "stored" (EarlyReads, early_reads.h).
//
// Invariants: a Get ends with values, or GetTimeoutError at its deadline;
// errors (task errors, lost objects) come back as kError views, never as
// exceptions; a borrowed object is in one fetch at a time; a view
// keeps its bytes alive (the entry, or the store pin) through its keepalive.
// A leased worker that waits inside a normal task lends its CPUs back to the
// node while it waits (NotifyWorkerBlocked).
#ifndef POLYRAY_CORE_OBJECT_GETTER_H_
#define POLYRAY_CORE_OBJECT_GETTER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/early_reads.h"
#include "core/memory_store.h"
#include "core/object_fetcher.h"
#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"

namespace polyray::core {

class CoreWorker;
class OwnerWatch;

/// Get / Wait; see the file comment.
class ObjectGetter {
 public:
  explicit ObjectGetter(CoreWorker& w);
  /// Stops the owner watch.
  ~ObjectGetter();

  /// Values of `refs`, in order. Throws polyray::GetTimeoutError.
  std::vector<internal::ValueView> Get(const std::vector<internal::RefPtr>& refs, int64_t timeout_ms);
  /// Waits until `num_returns` of `refs` are ready (or the deadline).
  internal::WaitResult Wait(const std::vector<internal::RefPtr>& refs, int num_returns, int64_t timeout_ms);
  /// The value of a known entry (errors and lost objects as kError views);
  /// pulls an object held on another node (blocking, bounded).
  /// A stored object whose copies are all lost is recomputed first (owned:
  /// by ObjectRecovery from its lineage; borrowed: by its owner, asked again
  /// with `lost`), at most kMaxRecoveriesPerGet times; `timeout_ms` < 0: no
  /// limit of the caller's (each wait still bounded), else GetTimeoutError.
  internal::ValueView ViewOf(const std::string& oid, const EntryPtr& entry, int64_t timeout_ms = -1);
  /// Borrowed values this process's Gets read locally, without their owners (for tests).
  uint64_t local_reads() const { return local_reads_.load(std::memory_order_relaxed); }
  /// Early copies made by this process's Gets (early_reads.h; for tests).
  uint64_t early_copies() const { return early_copies_.load(std::memory_order_relaxed); }
  /// How many times one Get has a lost object recomputed before it raises.
  static constexpr int kMaxRecoveriesPerGet = 8;
  /// Asks the owner of `ref` for its value, waiting as long as the owner is
  /// alive and the value pending (a worker resolving an argument); the
  /// object is not counted here (the caller holds it while the task runs).
  /// `lost`: no copy could be read, the owner is asked to recompute it.
  EntryPtr FetchFromOwner(const rpc::ObjectRef& ref, bool lost = false);
  /// Starts fetching these borrowed objects from their owners (batched per
  /// owner; objects known here, owned here or already being fetched are
  /// skipped). Returns at once: each lands in the memory store (value, or the
  /// error of a dead owner).
  void FetchBorrowed(const std::vector<rpc::ObjectRef>& refs);
  /// The actor submitter's argument resolver (ActorTaskSubmitter::ArgResolver):
  /// whether `spec` has top-level ref arguments not known yet; if so the
  /// borrowed ones are fetched and `ready` runs once (on the thread that
  /// records the last one) when every one is known. Never blocks.
  bool ResolveArgs(const rpc::TaskSpec& spec, std::function<void()> ready);

 private:
  /// Starts fetching the borrowed objects among `refs` that are not known or
  /// being fetched (batched per owner by the ObjectFetcher).
  void StartFetch(const std::vector<internal::RefPtr>& refs);
  /// One GetObject for `oid` (owners without GetObjects), asked again while the owner holds it.
  void FetchOnce(const std::string& oid, const rpc::Address& owner);
  /// The fetcher's GetObjects call to `owner`.
  bool SendGetObjects(const rpc::Address& owner, const std::vector<std::string>& ids, std::function<void()>* cancel,
                      ObjectFetcher::Done done);
  void NotifyBlocked(bool blocked);
  /// ViewOf without recovery; `*lost` when no copy could be read.
  internal::ValueView ReadView(const std::string& oid, const EntryPtr& entry, bool* lost);
  /// Early reads (early_reads.h): after the fetches of `refs` are sent,
  /// copies the plain values this node's store holds for the borrowed ones
  /// (when there are EarlyReads::kMinRefs of them or more).
  void ReadEarly(const std::vector<internal::RefPtr>& refs, EarlyReads* early);
  /// Local reads (docs/ownership.md): the borrowed refs among `missing`
  /// whose borrow is registered, whose owner is not known dead and whose
  /// copy is sealed in this node's store now are read from it (pinned views,
  /// EarlyReads::kBatch ids per store call) into `local` and leave `missing`.
  void ReadLocal(const std::vector<internal::RefPtr>& refs, std::vector<size_t>* missing,
                 std::vector<std::optional<internal::ValueView>>* local);
  /// Pinned views of `chunk` in this node's store (nullopt: not sealed now).
  std::vector<std::optional<internal::ValueView>> ReadStore(const std::vector<std::string>& chunk);
  /// The owners known dead (created on first use).
  OwnerWatch& owners();
  /// A call to `owner` failed: UNAVAILABLE (nothing listens) makes it known dead.
  void OwnerCallFailed(const rpc::Address& owner, const grpc::Status& st);
  /// Has a lost stored object recomputed and waits for its new entry (null:
  /// nothing could be done).
  EntryPtr RecoverLost(const std::string& oid, const EntryPtr& entry, int64_t timeout_ms);

  CoreWorker& w_;
  ObjectFetcher fetcher_;
  std::atomic<uint64_t> early_copies_{0};
  std::atomic<uint64_t> local_reads_{0};
  std::once_flag owners_once_;
  std::shared_ptr<OwnerWatch> owners_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_OBJECT_GETTER_H_

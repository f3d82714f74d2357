// ObjectGetter of object_getter.h.
#include "core/object_getter.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <unordered_map>

#include "codec/store_layout.h"
#include "core/common.h"
#include "core/core_worker.h"
#include "core/early_reads.h"
#include "core/ids.h"
#include "core/object_puller.h"
#include "core/owner_watch.h"
#include "core/object_recovery.h"
#include "core/rpc_call.h"
#include "core/store_io.h"
#include "polyray/exceptions.h"
#include "polyray/protocol/core_worker.grpc.pb.h"
#include "polyray/protocol/raylet.grpc.pb.h"

namespace polyray::core {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// What a blocked Get / Wait waits on.
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<EntryPtr> entries;
  size_t ready = 0;
  bool error = false;  // an error entry arrived (a Get stops at the first, as Ray's)
};

bool IsErrorEntry(const EntryPtr& e) {
  return e && e->envelope && e->envelope->format() == rpc::FORMAT_ERROR;
}

/// A memory-store callback that sets entry `i` of `waiter` (the first
/// value wins) and wakes the waiting thread.
auto Fill(const std::shared_ptr<Waiter>& waiter, size_t i) {
  return [waiter, i](const EntryPtr& e) {
    std::lock_guard<std::mutex> lock(waiter->mu);
    if (!waiter->entries[i]) {
      waiter->entries[i] = e;
      waiter->ready++;
      waiter->error = waiter->error || IsErrorEntry(e);
    }
    waiter->cv.notify_all();
  };
}

internal::ValueView ErrorView(const rpc::ErrorRecord& record) {
  return internal::ViewOfEnvelope(std::make_shared<const rpc::Envelope>(ErrorEnvelope(record)));
}

/// A Get that stops at an error before every value is known: every view is
/// the first error in list order among the known entries (the caller throws it).
std::vector<internal::ValueView> FirstError(const std::vector<internal::RefPtr>& refs,
                                            const std::vector<EntryPtr>& entries) {
  for (size_t i = 0; i < entries.size(); ++i) {
    if (IsErrorEntry(entries[i])) {
      internal::ValueView view = internal::ViewOfEnvelope(entries[i]->envelope);
      return std::vector<internal::ValueView>(refs.size(), view);
    }
  }
  throw polyray::Error("Get(): an error was signalled but none is known");
}

EntryPtr EntryFromReply(rpc::GetObjectReply& reply, const std::string& oid, const rpc::Address& owner) {
  if (!reply.found()) {
    return ErrorEntry(reply.has_failure()
                          ? reply.failure()
                          : SystemError(rpc::OBJECT_LOST, "the owner at " + Target(owner) +
                                                              " does not know object " + Hex(oid)));
  }
  rpc::ReturnObject& obj = *reply.mutable_object();
  if (obj.kind_case() == rpc::ReturnObject::kValue) {
    return InlineEntry(std::move(*obj.mutable_value()), obj.size());
  }
  auto e = std::make_shared<ObjectEntry>();
  e->in_store_node = obj.in_store_node();
  if (e->in_store_node.empty() && reply.locations_size() > 0) e->in_store_node = reply.locations(0);
  e->size = obj.size();
  e->locations.push_back(e->in_store_node);
  for (const std::string& n : reply.locations()) {
    if (n != e->in_store_node) e->locations.push_back(n);
  }
  e->owner = std::make_shared<const rpc::Address>(owner);
  return e;
}


// The error value of a borrowed object whose owner did not answer GetObject:
// nothing listens at its address (UNAVAILABLE) means the owner died
// (OWNER_DIED, REASON_OWNER_DIED); anything else leaves the object lost.
rpc::ErrorRecord OwnerUnreachable(const std::string& oid, const std::string& owner,
                                  const grpc::Status& st) {
  if (st.error_code() == grpc::StatusCode::UNAVAILABLE) {
    rpc::ErrorRecord r = SystemError(rpc::OWNER_DIED, "the owner of object " + Hex(oid) + " at " +
                                                          owner + " died (" + st.error_message() +
                                                          "); the object is lost");
    r.set_reason(rpc::REASON_OWNER_DIED);
    return r;
  }
  return SystemError(rpc::OBJECT_LOST, "the owner of object " + Hex(oid) + " at " + owner +
                                           " is unreachable (" + st.error_message() +
                                           "); the object is lost");
}

}  // namespace

std::vector<internal::ValueView> ObjectGetter::Get(const std::vector<internal::RefPtr>& refs, int64_t timeout_ms) {
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  auto waiter = std::make_shared<Waiter>();
  waiter->entries.resize(refs.size());
  EarlyReads early;
  std::vector<size_t> missing;
  for (size_t i = 0; i < refs.size(); ++i) {
    if (!refs[i]) throw polyray::Error("Get() of an empty ObjectRef (argument " + std::to_string(i) + ")");
    waiter->entries[i] = w_.memory_store().GetIfReady(refs[i]->object_id);
    if (!waiter->entries[i]) missing.push_back(i);
    waiter->error = waiter->error || IsErrorEntry(waiter->entries[i]);
  }
  if (!missing.empty() && waiter->error) return FirstError(refs, waiter->entries);
  std::vector<std::optional<internal::ValueView>> local(refs.size());
  if (!missing.empty()) ReadLocal(refs, &missing, &local);  // without asking the owners
  if (!missing.empty()) {
    std::vector<uint64_t> tokens(refs.size(), 0);
    std::vector<internal::RefPtr> fetch;
    fetch.reserve(missing.size());
    for (size_t i : missing) {
      tokens[i] = w_.memory_store().Subscribe(refs[i]->object_id, Fill(waiter, i));
      fetch.push_back(refs[i]);
    }
    StartFetch(fetch);  // one batch per owner, not one call per ref
    ReadEarly(fetch, &early);  // copies plain values while the owners are asked
    bool blocked = w_.InBlockingTask();
    if (blocked) NotifyBlocked(true);
    size_t not_ready = 0;
    bool error = false;
    {
      std::unique_lock<std::mutex> lock(waiter->mu);
      auto done = [&] { return waiter->ready >= missing.size() || waiter->error; };
      if (timeout_ms < 0) {
        waiter->cv.wait(lock, done);
      } else {
        waiter->cv.wait_until(lock, deadline, done);
      }
      not_ready = missing.size() - waiter->ready;
      error = waiter->error;
    }
    if (blocked) NotifyBlocked(false);
    if (not_ready > 0 && error) {
      // First error wins: the others are not waited for (nor read).
      for (size_t i : missing) {
        if (tokens[i]) w_.memory_store().Unsubscribe(refs[i]->object_id, tokens[i]);
      }
      std::lock_guard<std::mutex> lock(waiter->mu);
      return FirstError(refs, waiter->entries);
    }
    if (not_ready > 0) {
      std::string first;
      for (size_t i : missing) {
        if (tokens[i]) w_.memory_store().Unsubscribe(refs[i]->object_id, tokens[i]);
      }
      std::lock_guard<std::mutex> lock(waiter->mu);
      for (size_t i : missing) {
        if (!waiter->entries[i]) {
          first = Hex(refs[i]->object_id);
          break;
        }
      }
      throw polyray::GetTimeoutError("Get() timed out after " + std::to_string(timeout_ms) + " ms: " +
                                     std::to_string(not_ready) + " of " + std::to_string(refs.size()) +
                                     " object(s) not ready (first: " + first + ")");
    }
  }
  std::vector<internal::ValueView> out;
  out.reserve(refs.size());
  std::vector<EntryPtr> entries;
  {
    std::lock_guard<std::mutex> lock(waiter->mu);
    entries = waiter->entries;
  }
  for (size_t i = 0; i < refs.size(); ++i) {
    int64_t left = -1;
    if (timeout_ms >= 0) {
      left = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - SteadyClock::now()).count());
    }
    if (local[i]) {
      out.push_back(std::move(*local[i]));  // read locally (ReadLocal)
      continue;
    }
    if (std::optional<internal::ValueView> copy = early.Take(refs[i]->object_id, entries[i])) {
      out.push_back(std::move(*copy));  // the owner answered "stored": the early copy is its value
      continue;
    }
    out.push_back(ViewOf(refs[i]->object_id, entries[i], left));
  }
  return out;
}

OwnerWatch& ObjectGetter::owners() {
  std::call_once(owners_once_, [this] {
    owners_ = std::make_shared<OwnerWatch>(
        w_.scheduler(), std::make_shared<GrpcDeadWorkersClient>(w_.channels(), w_.options().gcs_address),
        spec::kBorrowersDeathWatchMs);
  });
  return *owners_;
}

ObjectGetter::~ObjectGetter() {
  if (owners_) owners_->Stop();
}

void ObjectGetter::OwnerCallFailed(const rpc::Address& owner, const grpc::Status& st) {
  if (st.error_code() == grpc::StatusCode::UNAVAILABLE) owners().MarkDead(owner.worker_id());
}

std::vector<std::optional<internal::ValueView>> ObjectGetter::ReadStore(const std::vector<std::string>& chunk) {
  std::vector<polyray::ObjectId> keys;
  keys.reserve(chunk.size());
  for (const std::string& oid : chunk) keys.push_back(polyray::ObjectId::FromBinary(oid));
  std::vector<std::optional<polyray::ObjectView>> pinned = w_.store().Open().Get(keys, 0);
  std::vector<std::optional<internal::ValueView>> views(pinned.size());
  for (size_t i = 0; i < pinned.size(); ++i) {
    if (!pinned[i]) continue;
    auto view = std::make_shared<polyray::ObjectView>(std::move(*pinned[i]));
    std::string_view metadata(reinterpret_cast<const char*>(view->metadata()), view->metadata_size());
    std::string_view data(reinterpret_cast<const char*>(view->data()), view->size());
    try {
      views[i] = internal::ViewStoreObject(metadata, data, std::move(view));
    } catch (const std::exception&) {
      // Not a value this SDK reads: read (and reported) after the owner's answer.
    }
  }
  return views;
}

void ObjectGetter::ReadLocal(const std::vector<internal::RefPtr>& refs, std::vector<size_t>* missing,
                             std::vector<std::optional<internal::ValueView>>* local) {
  if (!EarlyReads::LocalReadsEnabled()) return;
  std::vector<std::pair<size_t, rpc::Address>> candidates;  // index in refs, owner
  std::vector<std::string> ids;
  std::unordered_set<std::string> seen;
  for (size_t i : *missing) {
    const std::string& oid = refs[i]->object_id;
    if (w_.references().IsOwned(oid)) continue;
    rpc::ObjectRef msg;
    if (!msg.ParseFromString(refs[i]->serialized) || !msg.has_owner() || IsWorker(msg.owner(), w_.worker_id())) {
      continue;
    }
    if (!EarlyReads::LocalRead(w_.references().IsBorrowRegistered(oid), owners().IsDead(msg.owner().worker_id()))) {
      continue;
    }
    candidates.emplace_back(i, std::move(*msg.mutable_owner()));
    if (seen.insert(oid).second) ids.push_back(oid);
  }
  if (ids.empty()) return;
  std::unordered_map<std::string, internal::ValueView> found;
  try {
    for (size_t k = 0; k < ids.size(); k += EarlyReads::kBatch) {
      std::vector<std::string> chunk(ids.begin() + static_cast<std::ptrdiff_t>(k),
                                     ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), k + EarlyReads::kBatch)));
      std::vector<std::optional<internal::ValueView>> views = ReadStore(chunk);
      for (size_t j = 0; j < chunk.size() && j < views.size(); ++j) {
        if (views[j]) found.emplace(chunk[j], std::move(*views[j]));
      }
    }
  } catch (const std::exception&) {
    // No store here (closed, shutting down): what was not read asks its owner.
  }
  if (found.empty()) return;
  std::vector<size_t> rest;
  std::unordered_set<std::string> noted;  // each owner noted once per Get
  size_t c = 0;
  for (size_t i : *missing) {
    if (c < candidates.size() && candidates[c].first == i) {
      auto it = found.find(refs[i]->object_id);
      if (it != found.end()) {
        (*local)[i] = it->second;  // a ref listed twice: the same pinned bytes, decoded twice by the caller
        if (noted.insert(candidates[c].second.worker_id()).second) owners().Note(candidates[c].second);
        ++c;
        continue;
      }
      ++c;
    }
    rest.push_back(i);
  }
  size_t read = missing->size() - rest.size();
  local_reads_.fetch_add(read, std::memory_order_relaxed);
  if (std::getenv("POLYRAY_TEST_EARLY_READS")) {  // test hook: the cluster check reads this line
    std::fprintf(stderr, "polyray local reads: read %zu of %zu\n", read, missing->size());
  }
  *missing = std::move(rest);
}

void ObjectGetter::ReadEarly(const std::vector<internal::RefPtr>& refs, EarlyReads* early) {
  std::vector<std::string> ids;
  std::unordered_set<std::string> seen;
  for (const internal::RefPtr& ref : refs) {
    const std::string& oid = ref->object_id;
    if (w_.references().IsOwned(oid) || !seen.insert(oid).second) continue;
    rpc::ObjectRef msg;
    if (!msg.ParseFromString(ref->serialized) || !msg.has_owner() || IsWorker(msg.owner(), w_.worker_id())) continue;
    ids.push_back(oid);
  }
  if (!EarlyReads::Wanted(ids.size())) return;
  size_t copied = early->Read(ids, [this](const std::vector<std::string>& chunk) { return ReadStore(chunk); });
  early_copies_.fetch_add(copied, std::memory_order_relaxed);
  if (std::getenv("POLYRAY_TEST_EARLY_READS")) {  // test hook: the cluster check reads this line
    std::fprintf(stderr, "polyray early reads: copied %zu of %zu\n", copied, ids.size());
  }
}

internal::WaitResult ObjectGetter::Wait(const std::vector<internal::RefPtr>& refs, int num_returns,
                                        int64_t timeout_ms) {
  if (num_returns < 0 || static_cast<size_t>(num_returns) > refs.size()) {
    throw polyray::Error("Wait(): num_returns must be between 0 and the number of refs (" +
                         std::to_string(refs.size()) + "), got " + std::to_string(num_returns));
  }
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  auto waiter = std::make_shared<Waiter>();
  waiter->entries.resize(refs.size());
  std::vector<uint64_t> tokens(refs.size(), 0);
  std::vector<internal::RefPtr> fetch;
  for (size_t i = 0; i < refs.size(); ++i) {
    if (!refs[i]) throw polyray::Error("Wait() of an empty ObjectRef (argument " + std::to_string(i) + ")");
    if (!w_.memory_store().GetIfReady(refs[i]->object_id)) fetch.push_back(refs[i]);
  }
  for (size_t i = 0; i < refs.size(); ++i) {
    tokens[i] = w_.memory_store().Subscribe(refs[i]->object_id, Fill(waiter, i));
  }
  StartFetch(fetch);
  {
    std::unique_lock<std::mutex> lock(waiter->mu);
    auto done = [&] { return waiter->ready >= static_cast<size_t>(num_returns); };
    if (timeout_ms < 0) {
      waiter->cv.wait(lock, done);
    } else {
      waiter->cv.wait_until(lock, deadline, done);
    }
  }
  for (size_t i = 0; i < refs.size(); ++i) {
    if (tokens[i]) w_.memory_store().Unsubscribe(refs[i]->object_id, tokens[i]);
  }
  internal::WaitResult result;
  std::lock_guard<std::mutex> lock(waiter->mu);
  for (size_t i = 0; i < refs.size(); ++i) {
    if (waiter->entries[i] && result.ready.size() < static_cast<size_t>(num_returns)) {
      result.ready.push_back(i);
    } else {
      result.not_ready.push_back(i);
    }
  }
  return result;
}

internal::ValueView ObjectGetter::ViewOf(const std::string& oid, const EntryPtr& entry, int64_t timeout_ms) {
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  EntryPtr e = entry;
  for (int attempt = 0;; ++attempt) {
    bool lost = false;
    internal::ValueView v = ReadView(oid, e, &lost);
    if (!lost || attempt >= kMaxRecoveriesPerGet) return v;
    int64_t left = -1;
    if (timeout_ms >= 0) {
      left = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - SteadyClock::now()).count());
    }
    EntryPtr next = RecoverLost(oid, e, left);
    if (!next || next == e) return v;
    e = next;
  }
}

EntryPtr ObjectGetter::RecoverLost(const std::string& oid, const EntryPtr& entry, int64_t timeout_ms) {
  int64_t wait_ms = timeout_ms < 0 ? ObjectRecovery::kArgWaitMs : timeout_ms;
  if (!entry->owner) {
    if (!w_.references().IsOwned(oid)) return nullptr;
    w_.recovery().Recover(oid, entry);  // or completes it with its loss
    EntryPtr next;
    auto waiter = std::make_shared<Waiter>();
    waiter->entries.resize(1);
    uint64_t token = w_.memory_store().Subscribe(oid, Fill(waiter, 0));
    std::unique_lock<std::mutex> lock(waiter->mu);
    waiter->cv.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return waiter->ready > 0; });
    next = waiter->entries[0];
    lock.unlock();
    if (!next) {
      if (token) w_.memory_store().Unsubscribe(oid, token);
      if (timeout_ms >= 0) {
        throw polyray::GetTimeoutError("Get() timed out while object " + Hex(oid) + " was being recomputed");
      }
    }
    return next;
  }
  // Borrowed: ask the owner again with `lost`; it probes the copies and
  // recomputes the object when none is left, then answers where it is.
  rpc::ObjectRef ref;
  ref.set_object_id(oid);
  *ref.mutable_owner() = *entry->owner;
  EntryPtr next = FetchFromOwner(ref, true);
  if (w_.memory_store().GetIfReady(oid) == entry) {
    w_.memory_store().Delete(oid);
    w_.memory_store().Set(oid, next);
  }
  return next;
}

internal::ValueView ObjectGetter::ReadView(const std::string& oid, const EntryPtr& entry, bool* lost) {
  if (entry->envelope) return internal::ViewOfEnvelope(*entry->envelope, entry);
  if (!entry->in_store_node.empty() && entry->in_store_node != w_.node_id()) {
    // Held on another node: copy it into this node's store first (unless a
    // copy is here already: the puller checks).
    std::vector<std::string> locations = entry->locations;
    if (!entry->owner) locations = w_.references().Locations(oid);  // owned: every copy known here
    if (locations.empty() || locations.front() != entry->in_store_node) {
      locations.insert(locations.begin(), entry->in_store_node);
    }
    ObjectPuller::Result pulled = w_.puller().Pull(oid, locations, entry->owner.get());
    if (!pulled.ok) {
      *lost = pulled.kind == rpc::OBJECT_LOST;
      return ErrorView(SystemError(pulled.kind, pulled.message));
    }
  }
  try {
    std::optional<internal::ValueView> view = w_.store().Read(oid, kStoreWaitMs);
    if (!view) {
      *lost = true;
      return ErrorView(SystemError(rpc::OBJECT_LOST,
                                   "object " + Hex(oid) + " is not in this node's store (freed or evicted)"));
    }
    // The view pins the store object; the entry keeps the value's nested references.
    auto both = std::make_shared<std::pair<EntryPtr, std::shared_ptr<const void>>>(entry, view->keepalive);
    view->keepalive = std::move(both);
    return std::move(*view);
  } catch (const std::exception& e) {
    rpc::ErrorRecord r = SystemError(rpc::RUNTIME_ERROR, "cannot read object " + Hex(oid) +
                                                             " from the node's store: " + e.what());
    return ErrorView(r);
  }
}

ObjectGetter::ObjectGetter(CoreWorker& w)
    : w_(w),
      fetcher_(ObjectFetcher::Deps{
          [this](const rpc::Address& owner, const std::vector<std::string>& ids, std::function<void()>* cancel,
                 ObjectFetcher::Done done) { return SendGetObjects(owner, ids, cancel, std::move(done)); },
          [this](const std::string& oid, const rpc::Address& owner, rpc::GetObjectReply& reply) {
            w_.memory_store().Set(oid, EntryFromReply(reply, oid, owner));
          },
          [this](const std::string& oid, const rpc::Address& owner, const grpc::Status& st) {
            OwnerCallFailed(owner, st);
            w_.memory_store().Set(oid, ErrorEntry(OwnerUnreachable(oid, Target(owner), st)));
          },
          [this](const std::string& oid, const rpc::Address& owner) { FetchOnce(oid, owner); }}) {}

void ObjectGetter::StartFetch(const std::vector<internal::RefPtr>& refs) {
  std::vector<std::pair<std::string, rpc::Address>> items;
  items.reserve(refs.size());
  for (const internal::RefPtr& ref : refs) {
    const std::string& oid = ref->object_id;
    if (w_.references().IsOwned(oid)) continue;  // its task or put completes it here
    rpc::ObjectRef msg;
    if (!msg.ParseFromString(ref->serialized) || IsWorker(msg.owner(), w_.worker_id())) continue;
    if (w_.memory_store().GetIfReady(oid)) continue;
    items.emplace_back(oid, std::move(*msg.mutable_owner()));
  }
  if (!items.empty()) fetcher_.Fetch(items);
}

void ObjectGetter::FetchBorrowed(const std::vector<rpc::ObjectRef>& refs) {
  std::vector<std::pair<std::string, rpc::Address>> items;
  for (const rpc::ObjectRef& ref : refs) {
    const std::string& oid = ref.object_id();
    if (w_.references().IsOwned(oid) || IsWorker(ref.owner(), w_.worker_id())) continue;
    if (w_.memory_store().GetIfReady(oid)) continue;
    items.emplace_back(oid, ref.owner());
  }
  if (!items.empty()) fetcher_.Fetch(items);
}

bool ObjectGetter::ResolveArgs(const rpc::TaskSpec& spec, std::function<void()> ready) {
  std::vector<const rpc::ObjectRef*> refs;
  for (const rpc::TaskArg& a : spec.args()) {
    if (a.has_ref()) refs.push_back(&a.ref());
  }
  for (const rpc::KeywordArg& kw : spec.kwargs()) {
    if (kw.arg().has_ref()) refs.push_back(&kw.arg().ref());
  }
  std::vector<std::string> waiting;
  std::vector<rpc::ObjectRef> borrowed;
  for (const rpc::ObjectRef* ref : refs) {
    if (w_.memory_store().GetIfReady(ref->object_id())) continue;
    waiting.push_back(ref->object_id());
    if (!w_.references().IsOwned(ref->object_id()) && !IsWorker(ref->owner(), w_.worker_id())) {
      borrowed.push_back(*ref);
    }
  }
  if (waiting.empty()) return false;
  struct Countdown {
    std::atomic<size_t> left;
    std::function<void()> ready;
  };
  auto c = std::make_shared<Countdown>();
  c->left = waiting.size();
  c->ready = std::move(ready);
  for (const std::string& oid : waiting) {
    w_.memory_store().Subscribe(oid, [c](const EntryPtr&) {
      if (c->left.fetch_sub(1) == 1) c->ready();
    });
  }
  if (!borrowed.empty()) FetchBorrowed(borrowed);
  return true;
}

bool ObjectGetter::SendGetObjects(const rpc::Address& owner, const std::vector<std::string>& ids,
                                  std::function<void()>* cancel, ObjectFetcher::Done done) {
  if (w_.shutting_down()) return false;
  struct Call {
    grpc::ClientContext ctx;
    rpc::GetObjectsRequest request;
    rpc::GetObjectsReply reply;
    ObjectFetcher::Done done;
  };
  auto call = std::make_shared<Call>();
  for (const std::string& id : ids) call->request.add_object_ids(id);
  call->request.set_timeout_ms(kGetObjectWaitMs);
  call->done = std::move(done);
  call->ctx.set_deadline(DeadlineIn(std::chrono::milliseconds(kGetObjectWaitMs + 10'000)));
  // The cancel handle does not keep the call: gRPC's callback owns it until it ran.
  std::weak_ptr<Call> weak = call;
  *cancel = [weak] {
    if (auto c = weak.lock()) c->ctx.TryCancel();
  };
  auto stub = rpc::CoreWorkerService::NewStub(w_.channels().Get(owner));
  stub->async()->GetObjects(&call->ctx, &call->request, &call->reply, [call](grpc::Status st) {
    ObjectFetcher::Done d = std::move(call->done);
    d(st, call->reply);
  });
  return true;
}

void ObjectGetter::FetchOnce(const std::string& oid, const rpc::Address& owner) {
  if (w_.shutting_down()) return;
  rpc::GetObjectRequest req;
  req.set_object_id(oid);
  req.set_timeout_ms(kGetObjectWaitMs);
  auto stub = rpc::CoreWorkerService::NewStub(w_.channels().Get(owner));
  CallAsync<rpc::GetObjectReply>(
      [&stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->GetObject(ctx, rq, rp, std::move(cb)); },
      std::move(req), std::chrono::milliseconds(kGetObjectWaitMs + 10'000),
      [this, oid, owner](const grpc::Status& st, rpc::GetObjectReply& reply) {
        if (w_.shutting_down()) return;
        if (st.ok() && reply.timed_out()) {
          FetchOnce(oid, owner);  // the owner is alive and the object not ready yet
          return;
        }
        if (!st.ok()) {
          OwnerCallFailed(owner, st);
          w_.memory_store().Set(oid, ErrorEntry(OwnerUnreachable(oid, Target(owner), st)));
          return;
        }
        w_.memory_store().Set(oid, EntryFromReply(reply, oid, owner));
      });
}

EntryPtr ObjectGetter::FetchFromOwner(const rpc::ObjectRef& ref, bool lost) {
  const std::string& oid = ref.object_id();
  if (!lost) {
    if (EntryPtr known = w_.memory_store().GetIfReady(oid)) return known;
  }
  auto stub = rpc::CoreWorkerService::NewStub(w_.channels().Get(ref.owner()));
  rpc::GetObjectRequest req;
  req.set_object_id(oid);
  req.set_timeout_ms(kGetObjectWaitMs);
  req.set_lost(lost);  // no copy could be read: the owner recomputes it
  while (true) {
    grpc::ClientContext ctx;
    ctx.set_deadline(DeadlineIn(std::chrono::milliseconds(kGetObjectWaitMs + 10'000)));
    rpc::GetObjectReply reply;
    grpc::Status st = stub->GetObject(&ctx, req, &reply);
    req.set_lost(false);
    if (!st.ok()) {
      OwnerCallFailed(ref.owner(), st);
      return ErrorEntry(OwnerUnreachable(oid, Target(ref.owner()), st));
    }
    if (reply.timed_out()) continue;  // the owner is alive and the value pending
    return EntryFromReply(reply, oid, ref.owner());
  }
}

void ObjectGetter::NotifyBlocked(bool blocked) {
  rpc::NotifyWorkerBlockedRequest req;
  req.set_worker_id(w_.worker_id());
  req.set_blocked(blocked);
  auto stub = rpc::RayletService::NewStub(w_.channels().Get(w_.options().raylet_address));
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(std::chrono::seconds(5)));
  rpc::NotifyWorkerBlockedReply reply;
  stub->NotifyWorkerBlocked(&ctx, req, &reply);  // best effort, in order (synchronous)
}

}  // namespace polyray::core

// ObjectPuller of object_puller.h.
#include "core/object_puller.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include <grpcpp/grpcpp.h>

#include "core/common.h"
#include "core/core_worker.h"
#include "core/ids.h"
#include "core/node_directory.h"
#include "core/store_io.h"
#include "polyray/protocol/core_worker.grpc.pb.h"
#include "polyray/protocol/raylet.grpc.pb.h"
#include "polyray/store.h"

namespace polyray::core {
namespace {

using SteadyClock = std::chrono::steady_clock;

/// Slice of waiting for a copy another process of this node is writing.
constexpr int64_t kWaitSliceMs = 1000;
/// Restarts of a pull whose local copy another process abandoned.
constexpr int kMaxRestarts = 3;

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    default: return "status " + std::to_string(static_cast<int>(code));
  }
}

ObjectPuller::Result Failed(rpc::ErrorKind kind, std::string message) {
  ObjectPuller::Result r;
  r.ok = false;
  r.kind = kind;
  r.message = std::move(message);
  return r;
}

}  // namespace

ObjectPuller::Result ObjectPuller::Pull(const std::string& oid, const std::vector<std::string>& locations,
                                        const rpc::Address* owner) {
  std::shared_ptr<Inflight> pull;
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = inflight_.find(oid);
    if (it == inflight_.end()) {
      pull = std::make_shared<Inflight>();
      inflight_.emplace(oid, pull);
    } else {
      pull = it->second;
      // Another thread pulls it: wait for its outcome (it is bounded by the
      // same deadlines, plus a margin for its node lookups).
      bool done = pull->cv.wait_for(lock, kPullDeadline + std::chrono::seconds(30), [&] { return pull->done; });
      if (!done) {
        return Failed(rpc::OBJECT_LOST, "object " + Hex(oid) + " was being pulled by another thread of this "
                                        "process, which did not finish within " +
                                            std::to_string(kPullDeadline.count()) + " s");
      }
      return pull->result;
    }
  }
  Result result;
  try {
    result = PullOnce(oid, locations, owner);
  } catch (const std::exception& e) {
    result = Failed(rpc::RUNTIME_ERROR, "cannot pull object " + Hex(oid) + " into this node's store: " + e.what());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    pull->done = true;
    pull->result = result;
    inflight_.erase(oid);
  }
  pull->cv.notify_all();
  return result;
}

bool ObjectPuller::Probe(const std::string& oid, const std::string& node) {
  if (node == w_.node_id()) return w_.store().Open().Contains(polyray::ObjectId::FromBinary(oid));
  NodeDirectory::Found found = w_.nodes().Lookup(node);
  if (!found.raylet) return false;
  rpc::ReadObjectRequest req;
  req.set_object_id(oid);
  req.set_chunk_size(64);
  req.set_timeout_ms(0);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(std::chrono::seconds(3)));
  auto stub = rpc::RayletService::NewStub(w_.channels().Get(Target(*found.raylet)));
  std::unique_ptr<grpc::ClientReader<rpc::ObjectChunk>> reader = stub->ReadObject(&ctx, req);
  rpc::ObjectChunk chunk;
  bool any = reader->Read(&chunk);
  ctx.TryCancel();
  reader->Finish();
  return any;
}

ObjectPuller::Result ObjectPuller::PullOnce(const std::string& oid, const std::vector<std::string>& locations,
                                            const rpc::Address* owner) {
  polyray::Store& store = w_.store().Open();
  if (store.Contains(polyray::ObjectId::FromBinary(oid))) return Result{};
  std::vector<std::string> tried;
  std::vector<std::string> failures;
  for (const std::string& node : locations) {
    if (node.empty() || std::find(tried.begin(), tried.end(), node) != tried.end()) continue;
    tried.push_back(node);
    std::string label = "node " + ShortHex(node);
    if (node == w_.node_id()) {
      failures.push_back(label + " (this node) no longer holds it");
      continue;
    }
    NodeDirectory::Found found = w_.nodes().Lookup(node);
    if (!found.raylet) {
      failures.push_back(found.why);
      continue;
    }
    std::string at = label + " at " + Target(*found.raylet);
    // A stream slot of this node (capped per serving node), held while streaming.
    KeyedLimit::Slot slot = streams_.Acquire(node, std::chrono::duration_cast<std::chrono::milliseconds>(kPullDeadline));
    if (!slot) {
      failures.push_back(at + ": no stream slot within " + std::to_string(kPullDeadline.count()) + " s (" +
                         std::to_string(streams_.limit()) + " pulls from it in flight)");
      continue;
    }
    bool pulled = false;
    for (int attempt = 0; attempt < kMaxRestarts && !pulled; ++attempt) {
      std::string why;
      bool not_found = false;
      rpc::ErrorKind kind = rpc::OBJECT_LOST;
      Outcome o = Stream(oid, *found.raylet, &why, &not_found, &kind);
      if (o == Outcome::kRestart) {
        if (attempt + 1 == kMaxRestarts) failures.push_back(label + ": the local copy was abandoned three times");
        continue;
      }
      if (o == Outcome::kFatal) return Failed(kind, why);
      if (o == Outcome::kNodeFailed) {
        if (!not_found) w_.nodes().Forget(node);
        failures.push_back(at + ": " + why);
        break;
      }
      pulled = true;
    }
    slot.Release();
    if (pulled) {
      Record(oid, owner);
      return Result{};
    }
  }
  std::string where;
  for (const auto& f : failures) where += (where.empty() ? "" : "; ") + f;
  return Failed(rpc::OBJECT_LOST, "object " + Hex(oid) + " is lost: no node could provide it (" +
                                      (where.empty() ? std::string("no node holds a copy") : where) + ")");
}

ObjectPuller::Outcome ObjectPuller::Stream(const std::string& oid, const rpc::Address& raylet, std::string* why,
                                           bool* not_found, rpc::ErrorKind* kind) {
  polyray::Store& store = w_.store().Open();
  polyray::ObjectId id = polyray::ObjectId::FromBinary(oid);
  rpc::ReadObjectRequest req;
  req.set_object_id(oid);
  req.set_chunk_size(kChunkSize);
  req.set_timeout_ms(kReadWaitMs);
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(kPullDeadline));
  auto stub = rpc::RayletService::NewStub(w_.channels().Get(raylet));
  std::unique_ptr<grpc::ClientReader<rpc::ObjectChunk>> reader = stub->ReadObject(&ctx, req);
  std::optional<polyray::ObjectBuilder> builder;  // aborted by its destructor unless sealed
  uint64_t data_size = 0;
  uint64_t total = 0;
  uint64_t received = 0;
  auto give_up = [&](const std::string& reason) {
    ctx.TryCancel();
    reader->Finish();
    *why = reason;
  };
  rpc::ObjectChunk chunk;
  while (reader->Read(&chunk)) {
    if (!builder) {
      data_size = chunk.total_size();
      total = data_size + chunk.metadata_size();
      try {
        builder.emplace(store.CreateObject(id, data_size, chunk.metadata_size()));
      } catch (const polyray::ObjectExistsError&) {
        ctx.TryCancel();
        reader->Finish();
        return WaitOtherWriter(oid, why);
      } catch (const polyray::StoreFullError& e) {
        give_up("no room in the store of node " + ShortHex(w_.node_id()) + " for object " + Hex(oid) + " (" +
                std::to_string(total) + " bytes) pulled from node " + ShortHex(raylet.node_id()) + ": " + e.what());
        *kind = rpc::OBJECT_STORE_FULL;
        return Outcome::kFatal;
      }
    }
    const std::string& piece = chunk.data();
    uint64_t off = chunk.offset();
    if (off > total || piece.size() > total - off) {
      give_up("the raylet sent bytes " + std::to_string(off) + ".." + std::to_string(off + piece.size()) +
              " of an object of " + std::to_string(total) + " bytes");
      return Outcome::kNodeFailed;
    }
    // The stream is data followed by metadata; a chunk may straddle both.
    size_t in_data = off < data_size ? static_cast<size_t>(std::min<uint64_t>(piece.size(), data_size - off)) : 0;
    if (in_data > 0) std::memcpy(builder->data() + off, piece.data(), in_data);
    if (in_data < piece.size()) {
      uint64_t meta_off = off + in_data - data_size;
      std::memcpy(builder->metadata() + meta_off, piece.data() + in_data, piece.size() - in_data);
    }
    received += piece.size();
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) {
    *not_found = st.error_code() == grpc::StatusCode::NOT_FOUND;
    *why = CodeName(st.error_code()) + " " + st.error_message();
    return Outcome::kNodeFailed;
  }
  if (!builder) {
    *why = "the raylet sent no chunk of object " + Hex(oid);
    return Outcome::kNodeFailed;
  }
  if (received < total) {
    *why = "the stream ended after " + std::to_string(received) + " of " + std::to_string(total) + " bytes";
    return Outcome::kNodeFailed;
  }
  builder->Seal();
  return Outcome::kSealed;
}

ObjectPuller::Outcome ObjectPuller::WaitOtherWriter(const std::string& oid, std::string* why) {
  polyray::Store& store = w_.store().Open();
  polyray::ObjectId id = polyray::ObjectId::FromBinary(oid);
  auto deadline = SteadyClock::now() + kPullDeadline;
  while (SteadyClock::now() < deadline) {
    try {
      polyray::ObjectView sealed = store.GetOne(id, kWaitSliceMs);
      sealed.Release();
      return Outcome::kSealed;
    } catch (const polyray::StoreTimeoutError&) {
      try {
        polyray::ObjectBuilder probe = store.CreateObject(id, 0, 0);
        probe.Abort();
        return Outcome::kRestart;  // the writer gave up: the object is gone again
      } catch (const polyray::ObjectExistsError&) {
        continue;  // still being written
      }
    }
  }
  *why = "object " + Hex(oid) + " was being copied into this node's store by another process, which did not "
         "finish within " + std::to_string(kPullDeadline.count()) + " s";
  return Outcome::kFatal;
}

void ObjectPuller::Record(const std::string& oid, const rpc::Address* owner) {
  if (owner == nullptr || IsWorker(*owner, w_.worker_id())) {
    w_.references().AddLocation(oid, w_.node_id());
    return;
  }
  if (owner->port() == 0) return;
  rpc::AddObjectLocationRequest req;
  req.set_object_id(oid);
  req.set_node_id(w_.node_id());
  // Synchronous (bounded): the task that needed the copy runs after the owner
  // knows of it, so an owner that frees the object right after the task's
  // result arrives frees this copy too.
  auto stub = rpc::CoreWorkerService::NewStub(w_.channels().Get(*owner));
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(kRecordDeadline));
  rpc::AddObjectLocationReply reply;
  stub->AddObjectLocation(&ctx, req, &reply);  // the owner may be gone: nothing to record then
}

}  // namespace polyray::core

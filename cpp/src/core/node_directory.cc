// NodeDirectory of node_directory.h.
#include "core/node_directory.h"

#include <memory>

#include "core/common.h"
#include "core/core_worker.h"
#include "core/ids.h"
#include "core/rpc_call.h"
#include "polyray/protocol/gcs.grpc.pb.h"

namespace polyray::core {

NodeDirectory::Found NodeDirectory::FromCache(const std::string& node_id, bool* miss) {
  std::lock_guard<std::mutex> lock(mu_);
  Found out;
  auto it = nodes_.find(node_id);
  *miss = it == nodes_.end() || !it->second.alive();
  if (it == nodes_.end()) {
    out.why = "node " + ShortHex(node_id) + " is not a node of this cluster";
  } else if (!it->second.alive()) {
    const std::string& reason = it->second.death_reason();
    out.why = "node " + ShortHex(node_id) + " is dead (" + (reason.empty() ? "no reason recorded" : reason) + ")";
  } else {
    out.raylet = it->second.raylet_address();
    out.raylet->set_node_id(node_id);
  }
  return out;
}

bool NodeDirectory::StartRefresh() {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - refreshed_ < std::chrono::milliseconds(kMinRefreshMs)) return false;
  refreshed_ = now;
  return true;
}

void NodeDirectory::Store(const rpc::GetAllNodesReply& reply) {
  std::lock_guard<std::mutex> lock(mu_);
  nodes_.clear();
  for (const rpc::NodeInfo& n : reply.nodes()) nodes_[n.node_id()] = n;
}

NodeDirectory::Found NodeDirectory::Lookup(const std::string& node_id) {
  bool miss = false;
  Found found = FromCache(node_id, &miss);
  if (!miss || !StartRefresh()) return found;
  auto stub = rpc::GcsService::NewStub(w_.channels().Get(w_.options().gcs_address));
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(kRpcDeadline));
  rpc::GetAllNodesReply reply;
  grpc::Status st = stub->GetAllNodes(&ctx, rpc::GetAllNodesRequest(), &reply);
  if (!st.ok()) {
    found.why += "; the GCS at " + w_.options().gcs_address + " (which knows where nodes are) does not answer: " +
                 st.error_message();
    return found;
  }
  Store(reply);
  return FromCache(node_id, &miss);
}

void NodeDirectory::LookupAsync(const std::string& node_id, Callback cb) {
  bool miss = false;
  Found found = FromCache(node_id, &miss);
  if (!miss || !StartRefresh()) {
    cb(found);
    return;
  }
  auto stub = rpc::GcsService::NewStub(w_.channels().Get(w_.options().gcs_address));
  CallAsync<rpc::GetAllNodesReply>(
      [&stub](auto* ctx, auto* rq, auto* rp, auto done) { stub->async()->GetAllNodes(ctx, rq, rp, std::move(done)); },
      rpc::GetAllNodesRequest(), kRpcDeadline,
      [this, node_id, cb = std::move(cb), found](const grpc::Status& st, rpc::GetAllNodesReply& reply) {
        if (!st.ok()) {
          cb(found);
          return;
        }
        Store(reply);
        bool again = false;
        cb(FromCache(node_id, &again));
      });
}

void NodeDirectory::Forget(const std::string& node_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (nodes_.count(node_id) != 0) refreshed_ = {};
}

}  // namespace polyray::core

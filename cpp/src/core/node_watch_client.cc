// GrpcNodeWatchClient of node_watch_client.h.
#include "core/node_watch_client.h"

#include <memory>

#include "core/channels.h"
#include "core/rpc_call.h"
#include "polyray/protocol/gcs.grpc.pb.h"
#include "polyray/protocol/raylet.grpc.pb.h"

namespace polyray::core {

void GrpcNodeWatchClient::GetAllNodes(std::chrono::milliseconds timeout, NodesCallback done) {
  // The stub lives until the call ends (the callback owns it).
  auto stub = std::shared_ptr<rpc::GcsService::Stub>(rpc::GcsService::NewStub(channels_.Get(gcs_address_)));
  CallAsync<rpc::GetAllNodesReply>(
      [stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->GetAllNodes(ctx, rq, rp, std::move(cb)); },
      rpc::GetAllNodesRequest(), timeout,
      std::function<void(const grpc::Status&, rpc::GetAllNodesReply&)>(
          [stub, done = std::move(done)](const grpc::Status& st, rpc::GetAllNodesReply& reply) { done(st, reply); }));
}

void GrpcNodeWatchClient::ProbeRaylet(const std::string& raylet, std::chrono::milliseconds timeout,
                                      ProbeCallback done) {
  auto stub = std::shared_ptr<rpc::RayletService::Stub>(rpc::RayletService::NewStub(channels_.Get(raylet)));
  CallAsync<rpc::GetNodeStatsReply>(
      [stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->GetNodeStats(ctx, rq, rp, std::move(cb)); },
      rpc::GetNodeStatsRequest(), timeout,
      std::function<void(const grpc::Status&, rpc::GetNodeStatsReply&)>(
          [stub, done = std::move(done)](const grpc::Status& st, rpc::GetNodeStatsReply&) { done(st.ok()); }));
}

}  // namespace polyray::core

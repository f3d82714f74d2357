// GrpcActorInfoClient of actor_info_client.h.
#include "core/actor_info_client.h"

#include "core/channels.h"
#include "core/rpc_call.h"
#include "polyray/protocol/gcs.grpc.pb.h"

namespace polyray::core {

void GrpcActorInfoClient::GetActorInfo(const rpc::GetActorInfoRequest& req, std::chrono::milliseconds timeout,
                                       Callback done) {
  auto stub = rpc::GcsService::NewStub(channels_.Get(gcs_address_));
  CallAsync<rpc::GetActorInfoReply>(
      [&stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->GetActorInfo(ctx, rq, rp, std::move(cb)); },
      req, timeout, std::move(done));
}

}  // namespace polyray::core

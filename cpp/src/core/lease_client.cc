// GrpcLeaseClient of lease_client.h.
#include "core/lease_client.h"

#include <chrono>

#include "core/channels.h"
#include "core/common.h"
#include "core/rpc_call.h"
#include "polyray/protocol/raylet.grpc.pb.h"
#include "polyray/runtime_spec.h"

namespace polyray::core {
namespace {

constexpr std::chrono::seconds kLeaseRequestDeadline{spec::kLeaseRequestDeadlineS};
/// A returned lease needs no answer; the raylet reclaims the worker anyway
/// when the caller's stream ends.
constexpr std::chrono::seconds kReturnDeadline{10};
/// At shutdown the wait is short: the node may be gone.
constexpr std::chrono::seconds kReturnNowDeadline{2};

}  // namespace

void GrpcLeaseClient::RequestLease(const std::string& raylet, const rpc::RequestWorkerLeaseRequest& req,
                                   LeaseCallback done) {
  auto stub = rpc::RayletService::NewStub(channels_.Get(raylet));
  CallAsync<rpc::RequestWorkerLeaseReply>(
      [&stub](auto* ctx, auto* rq, auto* rp, auto cb) {
        stub->async()->RequestWorkerLease(ctx, rq, rp, std::move(cb));
      },
      req, kLeaseRequestDeadline, std::move(done));
}

void GrpcLeaseClient::ReturnLease(const std::string& raylet, const rpc::ReturnWorkerRequest& req) {
  auto stub = rpc::RayletService::NewStub(channels_.Get(raylet));
  CallAsync<rpc::ReturnWorkerReply>(
      [&stub](auto* ctx, auto* rq, auto* rp, auto cb) { stub->async()->ReturnWorker(ctx, rq, rp, std::move(cb)); },
      req, kReturnDeadline, IgnoreReply<rpc::ReturnWorkerReply>());
}

void GrpcLeaseClient::ReturnLeaseNow(const std::string& raylet, const rpc::ReturnWorkerRequest& req) {
  auto stub = rpc::RayletService::NewStub(channels_.Get(raylet));
  grpc::ClientContext ctx;
  ctx.set_deadline(DeadlineIn(kReturnNowDeadline));
  rpc::ReturnWorkerReply reply;
  stub->ReturnWorker(&ctx, req, &reply);  // best effort: the node may be gone
}

}  // namespace polyray::core

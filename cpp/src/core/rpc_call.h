// Asynchronous unary gRPC calls with their state owned by the call: the
// context, request and reply live until the completion callback has run.
//
// Invariants: `done` runs exactly once, on a gRPC callback thread (never
// inline in the caller: gRPC does not inline client callbacks), with the
// status and the reply; every call has a deadline.
#ifndef POLYRAY_CORE_RPC_CALL_H_
#define POLYRAY_CORE_RPC_CALL_H_

#include <chrono>
#include <functional>
#include <memory>
#include <utility>

#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

namespace polyray::core {

/// Starts `Stub::async()->Method(ctx, req, reply, cb)` through `start` with a
/// deadline of `timeout` and calls `done(status, reply)` when it ends.
/// `start` is `[stub](grpc::ClientContext*, const Req*, Reply*, std::function<void(grpc::Status)>)`.
template <typename Reply, typename Request, typename Start>
void CallAsync(Start&& start, Request request, std::chrono::milliseconds timeout,
               std::function<void(const grpc::Status&, Reply&)> done) {
  struct Call {
    grpc::ClientContext ctx;
    Request request;
    Reply reply;
    std::function<void(const grpc::Status&, Reply&)> done;
  };
  auto* call = new Call();
  call->request = std::move(request);
  call->done = std::move(done);
  call->ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  start(&call->ctx, &call->request, &call->reply, [call](grpc::Status status) {
    std::unique_ptr<Call> owned(call);
    if (owned->done) owned->done(status, owned->reply);
  });
}

/// Ignores the result of a best-effort call.
template <typename Reply>
std::function<void(const grpc::Status&, Reply&)> IgnoreReply() {
  return [](const grpc::Status&, Reply&) {};
}

}  // namespace polyray::core

#endif  // POLYRAY_CORE_RPC_CALL_H_

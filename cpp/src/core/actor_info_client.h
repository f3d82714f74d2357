// The actor submitter's call to the GCS (docs/protocol.md §6): the state of
// an actor, optionally held by the GCS until it changes. An interface so the
// submitter's ordering and failure rules are unit-tested with a fake GCS;
// GrpcActorInfoClient is the real one.
//
// Invariants: `done` runs exactly once, never inline in the caller, with
// the status and reply; every call has the deadline it is given.
#ifndef POLYRAY_CORE_ACTOR_INFO_CLIENT_H_
#define POLYRAY_CORE_ACTOR_INFO_CLIENT_H_

#include <chrono>
#include <functional>
#include <string>
#include <utility>

#include <grpcpp/support/status.h>

#include "polyray/protocol/gcs.pb.h"

namespace polyray::core {

class Channels;

/// GetActorInfo calls; see the file comment.
class ActorInfoClient {
 public:
  using Callback = std::function<void(const grpc::Status&, rpc::GetActorInfoReply&)>;

  virtual ~ActorInfoClient() = default;
  /// Sends GetActorInfo with a deadline of `timeout`.
  virtual void GetActorInfo(const rpc::GetActorInfoRequest& req, std::chrono::milliseconds timeout,
                            Callback done) = 0;
};

/// ActorInfoClient over this process's gRPC channel to the GCS.
class GrpcActorInfoClient final : public ActorInfoClient {
 public:
  GrpcActorInfoClient(Channels& channels, std::string gcs_address)
      : channels_(channels), gcs_address_(std::move(gcs_address)) {}

  void GetActorInfo(const rpc::GetActorInfoRequest& req, std::chrono::milliseconds timeout, Callback done) override;

 private:
  Channels& channels_;
  std::string gcs_address_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_ACTOR_INFO_CLIENT_H_

// The normal-task submitter's calls to raylets (docs/protocol.md §7.1):
// asking for a worker lease and giving it back. An interface so the
// submitter's lease rules (linger, spill-over, failures) are unit-tested with
// a fake raylet; GrpcLeaseClient is the real one.
//
// Invariants: every call names the raylet it goes to ("host:port": a lease
// goes back to the raylet that granted it); RequestLease's `done` runs
// exactly once, never inline in the caller, and every call has a deadline
// (spec kLeaseRequestDeadlineS for a request, which waits for a free worker).
#ifndef POLYRAY_CORE_LEASE_CLIENT_H_
#define POLYRAY_CORE_LEASE_CLIENT_H_

#include <functional>
#include <string>

#include <grpcpp/support/status.h>

#include "polyray/protocol/raylet.pb.h"

namespace polyray::core {

class Channels;

/// Lease calls to raylets; see the file comment.
class LeaseClient {
 public:
  using LeaseCallback = std::function<void(const grpc::Status&, rpc::RequestWorkerLeaseReply&)>;

  virtual ~LeaseClient() = default;
  /// Sends RequestWorkerLease to `raylet`; `done` gets the status and reply.
  virtual void RequestLease(const std::string& raylet, const rpc::RequestWorkerLeaseRequest& req,
                            LeaseCallback done) = 0;
  /// Sends ReturnWorker to `raylet` without waiting (best effort).
  virtual void ReturnLease(const std::string& raylet, const rpc::ReturnWorkerRequest& req) = 0;
  /// Sends ReturnWorker and waits a bounded time for the answer (shutdown:
  /// the process may exit right after).
  virtual void ReturnLeaseNow(const std::string& raylet, const rpc::ReturnWorkerRequest& req) = 0;
};

/// LeaseClient over this process's gRPC channels.
class GrpcLeaseClient final : public LeaseClient {
 public:
  explicit GrpcLeaseClient(Channels& channels) : channels_(channels) {}

  void RequestLease(const std::string& raylet, const rpc::RequestWorkerLeaseRequest& req,
                    LeaseCallback done) override;
  void ReturnLease(const std::string& raylet, const rpc::ReturnWorkerRequest& req) override;
  void ReturnLeaseNow(const std::string& raylet, const rpc::ReturnWorkerRequest& req) override;

 private:
  Channels& channels_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_LEASE_CLIENT_H_

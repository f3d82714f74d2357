// The normal-task submitter's calls for the node watch (as the Python and
// Java submitters): the GCS's node table (GetAllNodes: which nodes are dead
// and why) and a liveness probe of another node's raylet (GetNodeStats). An
// interface so the submitter's rules are unit-tested with a fake;
// GrpcNodeWatchClient is the real one.
//
// Invariants: each callback runs exactly once, never inline in the caller;
// every call has the deadline it is given.
#ifndef POLYRAY_CORE_NODE_WATCH_CLIENT_H_
#define POLYRAY_CORE_NODE_WATCH_CLIENT_H_

#include <chrono>
#include <functional>
#include <string>
#include <utility>

#include <grpcpp/support/status.h>

#include "polyray/protocol/gcs.pb.h"

namespace polyray::core {

class Channels;

/// GetAllNodes of the GCS and a raylet probe; see the file comment.
class NodeWatchClient {
 public:
  using NodesCallback = std::function<void(const grpc::Status&, rpc::GetAllNodesReply&)>;
  using ProbeCallback = std::function<void(bool answered)>;

  virtual ~NodeWatchClient() = default;
  /// Reads the GCS's node table with a deadline of `timeout`.
  virtual void GetAllNodes(std::chrono::milliseconds timeout, NodesCallback done) = 0;
  /// Whether the raylet at `raylet` ("host:port") answers within `timeout`.
  virtual void ProbeRaylet(const std::string& raylet, std::chrono::milliseconds timeout, ProbeCallback done) = 0;
};

/// NodeWatchClient over this process's gRPC channels.
class GrpcNodeWatchClient final : public NodeWatchClient {
 public:
  GrpcNodeWatchClient(Channels& channels, std::string gcs_address)
      : channels_(channels), gcs_address_(std::move(gcs_address)) {}

  void GetAllNodes(std::chrono::milliseconds timeout, NodesCallback done) override;
  void ProbeRaylet(const std::string& raylet, std::chrono::milliseconds timeout, ProbeCallback done) override;

 private:
  Channels& channels_;
  std::string gcs_address_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_NODE_WATCH_CLIENT_H_

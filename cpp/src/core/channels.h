// The gRPC channels of one CoreWorker, one per "host:port", cached for the
// life of the process's runtime.
//
// Invariants: one channel per target; no client-side retries (a failed call
// fails, the caller decides); no keepalive pings (the Python servers would
// answer a long pending call with GOAWAY "too_many_pings", and a peer on this
// machine that dies closes its socket anyway); messages up to the runtime
// spec's kRpcMaxMessageBytes both ways, as every peer (large values come from
// the store, but a borrowed value may arrive inline).
#ifndef POLYRAY_CORE_CHANNELS_H_
#define POLYRAY_CORE_CHANNELS_H_

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <grpcpp/channel.h>

#include "polyray/protocol/common.pb.h"

namespace polyray::core {

/// A cache of channels by target.
class Channels {
 public:
  /// The channel to "host:port" (created on first use).
  std::shared_ptr<grpc::Channel> Get(const std::string& target);
  /// The channel to a process's address.
  std::shared_ptr<grpc::Channel> Get(const rpc::Address& address);
  /// Drops every channel (calls in flight keep theirs until they end).
  void Clear();

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_CHANNELS_H_

// Channel cache of channels.h.
#include "core/channels.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "core/auth.h"
#include "core/common.h"

namespace polyray::core {

std::shared_ptr<grpc::Channel> Channels::Get(const std::string& target) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = channels_.find(target);
  if (it != channels_.end()) return it->second;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(spec::kRpcMaxMessageBytes));
  args.SetMaxSendMessageSize(static_cast<int>(spec::kRpcMaxMessageBytes));
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  // A distinct channel per CoreWorker: a driver and an in-process test
  // helper must not share one subchannel's state.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = AuthChannel(target, args);  // every call carries the cluster token
  channels_.emplace(target, channel);
  return channel;
}

std::shared_ptr<grpc::Channel> Channels::Get(const rpc::Address& address) { return Get(Target(address)); }

void Channels::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  channels_.clear();
}

}  // namespace polyray::core

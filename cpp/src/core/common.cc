// Helpers of common.h. Messages are built with plain protobuf; nothing here
// touches gRPC.
#include "core/common.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace polyray::core {
namespace {

const char* SystemTypeName(rpc::ErrorKind kind) {
  switch (kind) {
    case rpc::WORKER_CRASHED: return "polyray::WorkerCrashedError";
    case rpc::ACTOR_DIED: return "polyray::ActorDiedError";
    case rpc::OBJECT_LOST: return "polyray::ObjectLostError";
    case rpc::TASK_CANCELLED: return "polyray::TaskCancelledError";
    case rpc::NODE_DIED: return "polyray::NodeDiedError";
    case rpc::OBJECT_STORE_FULL: return "polyray::ObjectStoreFullError";
    case rpc::GET_TIMEOUT: return "polyray::GetTimeoutError";
    default: return "polyray::Error";
  }
}

}  // namespace

rpc::ErrorRecord SystemError(rpc::ErrorKind kind, const std::string& message) {
  rpc::ErrorRecord r;
  r.set_kind(kind);
  r.set_type_name(SystemTypeName(kind));
  r.set_message(message);
  r.set_language(rpc::CPP);
  return r;
}

std::string SerializeDeterministic(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream raw(&out);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

rpc::Envelope ErrorEnvelope(const rpc::ErrorRecord& record) {
  rpc::Envelope env;
  env.set_format(rpc::FORMAT_ERROR);
  env.set_body(SerializeDeterministic(record));
  return env;
}

uint64_t EncodedSize(const internal::Encoded& value) {
  uint64_t n = value.body.size();
  for (const auto& b : value.buffers) n += b.size();
  return n;
}

rpc::Envelope ToEnvelope(const internal::Encoded& value) {
  rpc::Envelope env;
  env.set_format(static_cast<rpc::Format>(value.format));
  env.set_body(value.body);
  for (const auto& b : value.buffers) env.add_buffers(b);
  return env;
}

internal::ValueView ViewOf(const rpc::Envelope& envelope, std::shared_ptr<const void> owner) {
  internal::ValueView v;
  v.format = static_cast<Format>(envelope.format());
  v.body = envelope.body();
  v.buffers.reserve(envelope.buffers_size());
  for (const auto& b : envelope.buffers()) v.buffers.emplace_back(b);
  v.keepalive = std::move(owner);
  return v;
}

std::string Target(const rpc::Address& address) {
  return (address.host().empty() ? std::string("127.0.0.1") : address.host()) + ":" +
         std::to_string(address.port());
}

}  // namespace polyray::core

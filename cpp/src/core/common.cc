// Helpers of common.h. Messages are built with plain protobuf; nothing here
// touches gRPC.
#include "core/common.h"

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
    case rpc::OWNER_DIED: return "polyray::OwnerDiedError";
    case rpc::GCS_UNAVAILABLE: return "polyray::GcsUnavailableError";
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

rpc::Envelope ErrorEnvelope(const rpc::ErrorRecord& record) {
  rpc::Envelope env;
  env.set_format(rpc::FORMAT_ERROR);
  env.set_body(internal::SerializeDeterministic(record));
  return env;
}

std::string Target(const rpc::Address& address) {
  return (address.host().empty() ? std::string("127.0.0.1") : address.host()) + ":" +
         std::to_string(address.port());
}

}  // namespace polyray::core

// OpenTaskStream of task_stream.h.
#include "core/task_stream.h"

#include <cstdlib>
#include <cstring>
#include <system_error>

#include "core/channels.h"
#include "core/push_port_stream.h"
#include "core/push_stream.h"

namespace polyray::core {

bool PushPortEnabled() {
  const char* v = std::getenv("POLYRAY_PUSH_PORT");
  return !(v != nullptr && std::strcmp(v, "0") == 0);
}

std::shared_ptr<TaskStream> OpenTaskStream(Channels& channels, const rpc::Address& worker,
                                           TaskStream::ReplyCallback on_reply, TaskStream::DoneCallback on_done) {
  if (worker.push_port() != 0 && PushPortEnabled()) {
    try {
      return PushPortStream::Open(worker.host().empty() ? "127.0.0.1" : worker.host(), worker.push_port(), on_reply,
                                  on_done);
    } catch (const std::system_error&) {
      // No thread for the connection: the gRPC stream needs none.
    }
  }
  return PushStream::Open(channels.Get(worker), std::move(on_reply), std::move(on_done));
}

}  // namespace polyray::core

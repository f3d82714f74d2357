// What a submitter pushes tasks through (docs/protocol.md §7.2): one stream
// per leased worker or actor, either the gRPC PushTasks call (PushStream,
// push_stream.h) or the worker's push port (PushPortStream,
// push_port_stream.h). OpenTaskStream picks one when the stream opens: the
// push port when the worker's address names one (`push_port` != 0) and
// POLYRAY_PUSH_PORT is not "0" in this process's environment, else gRPC.
//
// Invariants (both kinds): Send queues specs and never waits for the
// network; specs queued while a write is in progress leave together in the
// next message, in queue order; Close half-closes once the queued specs are
// out; `on_reply` runs once per reply message; `on_done` runs exactly once,
// after the last `on_reply`, with OK at a clean end (the worker ended the
// stream after our half-close with every result delivered) and an error
// otherwise (UNAVAILABLE for a worker that cannot be reached or whose stream
// broke); callbacks run on the stream's threads, never with a lock of the
// stream held, and may start as soon as the stream is opened (an owner that
// stores the stream takes its own mutex around the open and in the
// callbacks, as both submitters do); the stream stays alive until `on_done`
// has run.
#ifndef POLYRAY_CORE_TASK_STREAM_H_
#define POLYRAY_CORE_TASK_STREAM_H_

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <grpcpp/support/status.h>

#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/core_worker.pb.h"

namespace polyray::core {

class Channels;

/// One push stream; see the file comment.
class TaskStream {
 public:
  using ReplyCallback = std::function<void(rpc::PushTasksReply&)>;
  using DoneCallback = std::function<void(const grpc::Status&)>;

  virtual ~TaskStream() = default;
  /// Queues specs to send (dropped once the stream is closing or broken:
  /// the owner fails what is in flight when `on_done` runs).
  virtual void Send(std::vector<rpc::TaskSpec> specs) = 0;
  /// Half-closes after the queued specs are sent: the worker finishes what
  /// it has, then ends the stream.
  virtual void Close() = 0;
  /// The lease proof the stream's first request shows (a lease's stream of
  /// normal tasks; lease_proof.h). Call before the first Send.
  void ShowLease(const rpc::LeaseProof& lease) {
    lease_ = lease;
    has_lease_ = true;
  }
  /// The proof the next request will carry, if any (for tests).
  const rpc::LeaseProof* PendingLease() const { return has_lease_ ? &lease_ : nullptr; }

 protected:
  /// Moves the lease proof, once, into the request about to be written.
  /// Callers hold the stream's lock.
  void AttachLease(rpc::PushTasksRequest& request) {
    if (!has_lease_) return;
    *request.mutable_lease() = std::move(lease_);
    has_lease_ = false;
  }

 private:
  rpc::LeaseProof lease_;
  bool has_lease_ = false;
};

/// Whether callers use push ports: POLYRAY_PUSH_PORT is not "0".
bool PushPortEnabled();

/// Opens the push stream to `worker`; see the file comment.
std::shared_ptr<TaskStream> OpenTaskStream(Channels& channels, const rpc::Address& worker,
                                           TaskStream::ReplyCallback on_reply, TaskStream::DoneCallback on_done);

/// How the submitters open streams: OpenTaskStream in production
/// (ChannelTaskStreamOpener), a fake worker in their unit tests. Open must
/// not run a callback before it returns (the submitters call it under their
/// mutex).
class TaskStreamOpener {
 public:
  virtual ~TaskStreamOpener() = default;
  virtual std::shared_ptr<TaskStream> Open(const rpc::Address& worker, TaskStream::ReplyCallback on_reply,
                                           TaskStream::DoneCallback on_done) = 0;
};

/// The production opener: OpenTaskStream over this process's channels.
class ChannelTaskStreamOpener final : public TaskStreamOpener {
 public:
  explicit ChannelTaskStreamOpener(Channels& channels) : channels_(channels) {}
  std::shared_ptr<TaskStream> Open(const rpc::Address& worker, TaskStream::ReplyCallback on_reply,
                                   TaskStream::DoneCallback on_done) override {
    return OpenTaskStream(channels_, worker, std::move(on_reply), std::move(on_done));
  }

 private:
  Channels& channels_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_TASK_STREAM_H_

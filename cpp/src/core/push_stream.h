// The caller's side of one PushTasks stream (docs/protocol.md §7.2): a
// gRPC callback reactor that sends TaskSpecs to a leased worker or an actor,
// several per message when they queue up, and hands every reply to its owner.
//
// Invariants: at most one write is in flight; specs queued while a write is
// in flight go out together in the next message, in queue order; `on_reply`
// and `on_done` run on gRPC callback threads, `on_done` exactly once and
// after the last `on_reply`; the object stays alive until `on_done` has run
// (it holds itself). No lock is held while calling into gRPC or the owner.
// It is one of the two kinds of TaskStream (task_stream.h); the other is the
// push port's (push_port_stream.h).
#ifndef POLYRAY_CORE_PUSH_STREAM_H_
#define POLYRAY_CORE_PUSH_STREAM_H_

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <grpcpp/client_context.h>
#include <grpcpp/support/client_callback.h>

#include "core/task_stream.h"
#include "polyray/protocol/core_worker.grpc.pb.h"

namespace polyray::core {

/// One PushTasks stream; see the file comment.
class PushStream : public TaskStream, public grpc::ClientBidiReactor<rpc::PushTasksRequest, rpc::PushTasksReply> {
 public:
  /// Opens a stream on `channel`; no deadline (tasks may run for hours; a
  /// worker that dies closes its socket, which ends the stream at once).
  static std::shared_ptr<PushStream> Open(const std::shared_ptr<grpc::Channel>& channel, ReplyCallback on_reply,
                                          DoneCallback on_done);

  /// Queues specs to send (dropped once the stream is closing or broken).
  void Send(std::vector<rpc::TaskSpec> specs) override;
  /// Half-closes after the queued specs are sent: the worker finishes what it
  /// has, then ends the stream.
  void Close() override;
  /// Ends the stream now (shutdown).
  void Cancel();

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnWritesDoneDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  PushStream(ReplyCallback on_reply, DoneCallback on_done) : on_reply_(std::move(on_reply)), on_done_(std::move(on_done)) {}
  /// Under mu_: moves queued specs into request_ when no write is in flight.
  bool TakeBatch();
  /// Under mu_: whether the hold may go now (no write side op can start any more).
  bool ReleaseHoldLocked();
  /// Runs a write-side gRPC op started under the `starting_` guard.
  void FinishStarting();

  grpc::ClientContext ctx_;
  std::unique_ptr<rpc::CoreWorkerService::Stub> stub_;
  ReplyCallback on_reply_;
  DoneCallback on_done_;
  std::shared_ptr<PushStream> self_;

  std::mutex mu_;
  std::vector<rpc::TaskSpec> queued_;
  rpc::PushTasksRequest request_;  // the message being written
  rpc::PushTasksReply reply_;      // the message being read
  bool writing_ = false;
  bool closing_ = false;
  bool broken_ = false;
  bool writes_done_ = false;
  bool hold_released_ = false;
  int starting_ = 0;  // write-side ops decided under mu_ and not yet started
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_PUSH_STREAM_H_

// The CoreWorkerService this process serves (docs/protocol.md §6), on a port
// it picks: PushTasks (to the TaskReceiver of a worker), and the owner's side
// of GetObject, UpdateBorrows, AddObjectLocation; CancelTask and Exit.
//
// Invariants: handlers never block a gRPC thread: they answer at once or
// register a callback (GetObject waits on the memory store, bounded by the
// request's timeout or 60 s); every PushTasks task gets exactly one result
// on its stream unless the caller went away; results that pile up while a
// write is in flight leave together in one message; the stream ends after
// the caller half-closed and the last result was sent.
#ifndef POLYRAY_CORE_CORE_WORKER_SERVER_H_
#define POLYRAY_CORE_CORE_WORKER_SERVER_H_

#include <memory>
#include <string>

namespace grpc {
class Server;
}

namespace polyray::core {

class CoreWorker;
class TaskReceiver;

/// The gRPC server of a CoreWorker; see the file comment.
class CoreWorkerServer {
 public:
  /// `receiver` runs pushed tasks (null for a driver, which refuses them).
  CoreWorkerServer(CoreWorker& w, TaskReceiver* receiver);
  ~CoreWorkerServer();

  /// Listens on host:0; returns the port. Throws polyray::Error.
  int Start(const std::string& host);
  /// Stops serving (calls in flight are cancelled after a short grace).
  void Shutdown();

 private:
  class Service;
  CoreWorker& w_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_CORE_WORKER_SERVER_H_

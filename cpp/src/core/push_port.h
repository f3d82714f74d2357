// The worker's push port (docs/protocol.md §7.2, "Push port"): the PushTasks
// stream without gRPC, as frames over a plain TCP connection. A frame is a
// 4-byte little-endian length n (at most kMaxFrame) and n bytes of a
// serialized PushTasksRequest (caller -> worker) or PushTasksReply
// (worker -> caller). The tasks go to TaskReceiver::Enqueue, as those of the
// gRPC PushTasks do (core_worker_server.cc); the gRPC stream stays for
// callers that do not speak the port. Python and Java workers offer the same
// port (python/polyray/core/push_port.py, java/.../worker/PushPort.java).
//
// Under POLYRAY_USE_TLS=1 each connection speaks mutual TLS (push_tls.h):
// the reader runs the handshake (at most 10 s) before the PushHello, and a
// caller refused there is dropped with a log line like any bad connection.
//
// Threads: one accept thread; one reader thread per connection, which reads
// its frames and queues their tasks; a result is written by the thread that
// finished the task (a task thread), with no lock held during the write.
// A reader with no frame header buffered polls the socket for SpinTime()
// (spin.h, POLYRAY_SPIN_US) before its blocking read: in a loop of sync
// calls the next frame comes meanwhile, and the reader is not woken from
// sleep.
//
// Invariants:
// - a connection's tasks are queued in the order their frames arrive, and
//   every task read gets exactly one result, on the connection it came from,
//   unless the connection broke (the caller then fails its calls in flight,
//   as for a broken gRPC stream);
// - at most one thread writes to a connection at a time; results that
//   finish while a write is in progress leave together in the next frame;
// - a connection's socket is closed exactly once, under its mutex, when its
//   reader has stopped (the caller half-closed, a bad frame, an I/O error or
//   Stop), no write is in progress, and every result is out or the
//   connection is broken; so no thread ever uses a closed (or reused) fd;
// - a bad frame (a length above kMaxFrame, bytes that are not a
//   PushTasksRequest, EOF inside a frame) or an I/O error ends that one
//   connection, with one line on stderr naming the peer and the reason,
//   never the worker;
// - after Stop() the port's threads have ended and nothing listens; open
//   connections are broken (results still owed are dropped) and their
//   sockets closed, at the latest when a write in progress ends.
#ifndef POLYRAY_CORE_PUSH_PORT_H_
#define POLYRAY_CORE_PUSH_PORT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/push_frame.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace polyray::core {

class TaskReceiver;

/// A worker's push port; see the file comment.
class PushPort {
 public:
  /// The largest frame either side may send (push_frame.h).
  static constexpr uint32_t kMaxFrame = kMaxPushFrame;

  /// Tasks read go to `receiver`, which must outlive Stop(); `worker_id`
  /// names the worker in messages. Throws std::invalid_argument for a bad
  /// POLYRAY_SPIN_US (spin.h).
  PushPort(TaskReceiver& receiver, std::string worker_id);
  ~PushPort();
  PushPort(const PushPort&) = delete;
  PushPort& operator=(const PushPort&) = delete;

  /// Listens on an ephemeral port of `host` and starts accepting; returns the
  /// port. Throws polyray::Error when it cannot listen.
  int Start(const std::string& host);
  /// Stops accepting, breaks the open connections and joins every thread of
  /// the port. Idempotent; call from no thread of the port.
  void Stop();
  /// The port (0 before Start).
  int port() const { return port_; }

 private:
  class Connection;
  struct Served {
    std::shared_ptr<Connection> connection;
    std::thread reader;
  };
  void AcceptLoop();
  /// Joins the readers of connections that stopped reading. Caller holds mu_.
  void ReapLocked();

  TaskReceiver& receiver_;
  const std::string worker_id_;
  const std::chrono::nanoseconds spin_;  // how long a reader polls before its blocking read
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: Stop wakes the accept thread
  int port_ = 0;
  SSL_CTX* tls_ = nullptr;  // mutual TLS under POLYRAY_USE_TLS (push_tls.h), else nullptr
  std::thread accept_thread_;
  std::mutex mu_;
  bool stopped_ = false;        // guarded by mu_
  std::vector<Served> served_;  // guarded by mu_
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_PUSH_PORT_H_

// The caller's side of a push stream over a worker's push port
// (docs/protocol.md §7.2, "Push port"; framing in push_frame.h): the socket
// twin of the gRPC PushStream (push_stream.h), with the same contract
// (task_stream.h). Python callers have theirs in
// python/polyray/core/push_port.py (PushConnection).
//
// Under POLYRAY_USE_TLS=1 the I/O thread runs a mutual-TLS handshake
// (push_tls.h) after connecting, within the same timeout, before any frame;
// every read and write then goes through TLS. The half-close stays a TCP FIN.
//
// Threads: one I/O thread per connection connects (with a timeout, so Send
// never waits for it), reads the reply frames, runs on_reply and on_done,
// and finishes writes the socket could not take at once. A sender writes its
// frame itself, on its own thread, when the connection is up and no other
// write is in progress: a non-blocking send, so a submitter may call Send
// under its own mutex; what the socket does not take then is left to the I/O
// thread (it polls for POLLOUT). While results are owed, the I/O thread
// polls without sleeping for SpinTime() (spin.h, POLYRAY_SPIN_US) before its
// blocking poll, as the worker's push-port reader does: in a loop of sync
// calls the reply comes meanwhile and no sleeping thread has to be woken.
//
// Invariants:
// - at most one writer at a time (`writing_`, under mu_); a frame is built
//   whole before its first byte is written, and the next one starts after
//   its last byte, so frames never interleave; specs queued while a write is
//   in progress (or before the connection is up) leave together in the next
//   frame, in queue order;
// - the half-close (shutdown SHUT_WR) follows Close once every queued spec
//   is out; specs sent after Close or after the stream broke are dropped;
// - on_reply and on_done run on the I/O thread only, never with mu_ held;
//   on_done runs exactly once, last, with OK when the worker closed the
//   connection after our half-close and every result was read, else
//   UNAVAILABLE and a message naming host:port and what happened (cannot
//   connect; closed with results outstanding or before our half-close; a
//   reset or another I/O error; a bad frame);
// - the socket is closed once, by the I/O thread, when no writer uses it;
//   the I/O thread holds the object until on_done has returned.
#ifndef POLYRAY_CORE_PUSH_PORT_STREAM_H_
#define POLYRAY_CORE_PUSH_PORT_STREAM_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/push_tls.h"
#include "core/task_stream.h"

namespace polyray::core {

/// One push-port connection, caller side; see the file comment.
class PushPortStream : public TaskStream, public std::enable_shared_from_this<PushPortStream> {
 public:
  /// How long a connect may take before the stream fails.
  static constexpr std::chrono::milliseconds kConnectTimeout{10000};

  /// Connects to the push port `port` on `host` (on the I/O thread) and
  /// returns at once. Throws std::system_error when it cannot start the
  /// I/O thread; no callback has run then.
  static std::shared_ptr<PushPortStream> Open(const std::string& host, int port, ReplyCallback on_reply,
                                              DoneCallback on_done,
                                              std::chrono::milliseconds connect_timeout = kConnectTimeout);
  ~PushPortStream() override;
  PushPortStream(const PushPortStream&) = delete;
  PushPortStream& operator=(const PushPortStream&) = delete;

  void Send(std::vector<rpc::TaskSpec> specs) override;
  void Close() override;

  /// "host:port", as messages name it.
  const std::string& where() const { return where_; }

 private:
  PushPortStream(const std::string& host, int port, ReplyCallback on_reply, DoneCallback on_done,
                 std::chrono::milliseconds connect_timeout);
  /// The I/O thread.
  void Run();
  /// A connected non-blocking socket, or -1 and why not.
  int Connect(std::string& why);
  /// Reads what the socket has and delivers the complete frames (I/O thread).
  void ReadAvailable();
  /// Writes until nothing is queued, the socket takes no more or the stream
  /// broke; then half-closes if Close asked and all is out. Caller holds mu_
  /// through `lock` (released while serializing and writing), the
  /// connection is up and no other writer runs.
  void FlushLocked(std::unique_lock<std::mutex>& lock);
  /// Ends the stream with `why` (the first reason wins). Caller holds mu_.
  void BreakLocked(const std::string& why);
  /// Wakes the I/O thread from its poll.
  void Wake();

  const std::string host_;
  const int port_;
  const std::string where_;
  const std::chrono::milliseconds connect_timeout_;
  const std::chrono::nanoseconds spin_;  // how long the I/O thread polls for owed results before it sleeps
  ReplyCallback on_reply_;  // the I/O thread's
  DoneCallback on_done_;    // the I/O thread's
  int wake_fd_ = -1;        // an eventfd
  int fd_ = -1;             // set by the I/O thread before connected_, closed by it after ending_
  std::unique_ptr<TlsSocket> tls_;  // under POLYRAY_USE_TLS: set by the I/O thread before connected_
  // The I/O thread's own: received bytes, the unread part [begin_, end_).
  std::vector<char> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;

  std::mutex mu_;
  std::condition_variable no_writer_;  // signalled when a writer stops while ending_
  std::vector<rpc::TaskSpec> queued_;  // guarded by mu_
  std::string out_;                    // the frame being written: the writer's, or (no writer) guarded by mu_
  size_t out_off_ = 0;                 // bytes of out_ written; as out_
  int64_t outstanding_ = 0;            // tasks sent whose result has not been read; guarded by mu_
  bool connected_ = false;             // guarded by mu_
  bool writing_ = false;               // a thread is in FlushLocked; guarded by mu_
  bool closing_ = false;               // Close was called; guarded by mu_
  bool shut_wr_ = false;               // we half-closed; guarded by mu_
  bool clean_end_ = false;             // the worker closed after our half-close, all read; guarded by mu_
  bool ending_ = false;                // the I/O thread is done with the socket; guarded by mu_
  std::string error_;                  // non-empty: why the stream broke; guarded by mu_
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_PUSH_PORT_STREAM_H_

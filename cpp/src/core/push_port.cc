// PushPort of push_port.h, on plain POSIX sockets.
//
// A connection's state lives in its Connection, shared by its reader thread,
// the PushPort (until Stop) and the reply callbacks of its queued tasks, so a
// result that comes late still finds it. Its mutex guards the socket's
// lifetime (closed_) and the reply queue; reads and writes themselves run
// outside it: the reader reads only while `reading_`, a writer writes only
// while `writing_`, and the socket is not closed while either is set.
#include "core/push_port.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>

#include "core/ids.h"
#include "core/auth.h"
#include "core/push_frame.h"
#include "core/push_tls.h"
#include "core/spin.h"
#include "core/task_receiver.h"
#include "core/lease_proof.h"
#include "core/validation.h"
#include "polyray/exceptions.h"
#include "polyray/protocol/core_worker.pb.h"

namespace polyray::core {
namespace {

constexpr size_t kHeader = kPushFrameHeader;
/// The largest first frame (a PushHello with a token) a connection may open with.
constexpr uint32_t kMaxHello = 4096;
/// How long a caller may take to finish the TLS handshake.
constexpr std::chrono::seconds kTlsHandshakeTimeout{10};
/// Bytes a reader asks the kernel for at a time (frames up to this size are
/// parsed where they were received, without a copy).
constexpr size_t kReadBuffer = 64 * 1024;

/// One frame of `reply` (push_frame.h).
std::string Frame(const rpc::PushTasksReply& reply) {
  std::string out;
  AppendPushFrame(reply, out);
  return out;
}

/// Writes all of `data`; 0, or the errno of the failure.
int SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t k = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    off += static_cast<size_t>(k);
  }
  return 0;
}

/// "host:port" of a peer, for messages.
std::string PeerName(const sockaddr_storage& a) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&a);
    inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
    return std::string(host) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  if (a.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  return "an unknown peer";
}

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

// ------------------------------------------------------------------ Connection

/// One caller's connection; see the comments at the top of the file.
class PushPort::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(int fd, std::string peer, std::string worker, TaskReceiver& receiver, std::chrono::nanoseconds spin,
             SSL_CTX* tls)
      : fd_(fd),
        tls_ctx_(tls),
        peer_(std::move(peer)),
        worker_(std::move(worker)),
        receiver_(receiver),
        spin_(spin),
        buf_(kReadBuffer) {}
  ~Connection() {
    if (!closed_) ::close(fd_);  // never read from: the port stopped as it was accepted
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// The reader thread: frames until EOF, a bad frame, an error or Abort.
  void ReadLoop() {
    pthread_setname_np(pthread_self(), "polyray-push-rd");
    std::string reason;  // empty: the caller half-closed (or Abort)
    try {
      reason = ReadFrames();
    } catch (const std::exception& e) {  // bad_alloc of a large frame, mostly
      reason = e.what();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!reason.empty()) BreakLocked(reason);
      reading_ = false;
      CloseIfDoneLocked();
    }
    finished_.store(true);
  }

  /// The result of a task read from this connection (a task thread): written
  /// now, or with the next frame when another thread is writing.
  void Reply(rpc::TaskResult result) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!result.generator_item()) pending_--;  // a generator's items precede its task's end
    if (broken_) {  // the caller fails these tasks itself
      CloseIfDoneLocked();
      return;
    }
    ready_.push_back(std::move(result));
    if (writing_) return;  // that writer takes it in its next frame
    writing_ = true;
    rpc::PushTasksReply reply;
    while (!ready_.empty() && !broken_) {
      reply.Clear();
      for (rpc::TaskResult& r : ready_) *reply.add_results() = std::move(r);
      ready_.clear();
      lock.unlock();
      int err = Send(Frame(reply));
      lock.lock();
      if (err != 0) {
        BreakLocked("cannot send results: " + ErrnoText(err));
        ::shutdown(fd_, SHUT_RDWR);  // wakes the reader, which then lets go of the socket
      }
    }
    writing_ = false;
    CloseIfDoneLocked();
  }

  /// Breaks the connection (Stop): results still owed are dropped, the
  /// reader wakes and the socket closes once nobody uses it.
  void Abort() {
    std::lock_guard<std::mutex> lock(mu_);
    broken_ = true;  // no message: the worker is stopping
    ready_.clear();
    if (!closed_) ::shutdown(fd_, SHUT_RDWR);
    CloseIfDoneLocked();
  }

  /// Whether the reader thread is done (it may be joined).
  bool finished() const { return finished_.load(); }

 private:
  enum class Got { kOk, kEof, kError };

  /// Writes all of `data` (through TLS when on); 0, or the errno of the failure.
  int Send(const std::string& data) {
    if (tls_ == nullptr) return SendAll(fd_, data);
    size_t off = 0;
    while (off < data.size()) {
      ssize_t k = tls_->Write(data.data() + off, data.size() - off, true);
      if (k < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      off += static_cast<size_t>(k);
    }
    return 0;
  }

  /// recv(2) of the socket, or of its TLS (blocking either way).
  ssize_t Recv(char* dst, size_t n) { return tls_ != nullptr ? tls_->Read(dst, n, true) : ::recv(fd_, dst, n, 0); }

  /// Why the last read failed.
  std::string ReadError() {
    if (tls_ != nullptr && read_errno_ == EPROTO) return tls_->error();
    return ErrnoText(read_errno_);
  }

  /// Reads frames and queues their tasks; why it stopped ("" at a clean EOF).
  std::string ReadFrames() {
    // Under TLS the handshake comes first (push_tls.h): a plaintext caller, one
    // without a certificate or with one another CA signed is refused here.
    if (tls_ctx_ != nullptr) {
      int flags = ::fcntl(fd_, F_GETFL);
      if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) != 0) return "cannot set up TLS: " + ErrnoText(errno);
      tls_ = std::make_unique<TlsSocket>(tls_ctx_, fd_, true, "");
      std::string why = tls_->Handshake(std::chrono::steady_clock::now() + kTlsHandshakeTimeout);
      if (!why.empty()) return "refused: TLS handshake failed: " + why;
    }
    // The first frame is the caller's PushHello: a connection without the
    // cluster token is closed before any task is read (docs/security.md).
    {
      if (end_ - begin_ < kHeader) AwaitInput();
      Got got = Need(kHeader);
      if (got == Got::kEof) return end_ == begin_ ? "" : "the connection ended inside a frame header";
      if (got == Got::kError) return "cannot read: " + ReadError();
      uint32_t n = PushFrameLength(buf_.data() + begin_);
      begin_ += kHeader;
      if (n > kMaxHello) return "refused: a first frame of " + std::to_string(n) + " bytes is no PushHello";
      got = Need(n);
      if (got != Got::kOk) return "the connection ended inside its PushHello";
      bool ok = PushHelloOk(buf_.data() + begin_, n);
      begin_ += n;
      if (!ok) return "refused: no or wrong auth token in its PushHello";
    }
    while (true) {
      const auto wait_start = std::chrono::steady_clock::now();
      const bool waited = end_ - begin_ < kHeader;
      if (waited) AwaitInput();
      Got got = Need(kHeader);
      if (waited && spin_.count() > 0) SpinGate::Process().Record(std::chrono::steady_clock::now() - wait_start);
      if (got == Got::kEof) return end_ == begin_ ? "" : "the connection ended inside a frame header";
      if (got == Got::kError) return "cannot read: " + ReadError();
      uint32_t n = PushFrameLength(buf_.data() + begin_);
      begin_ += kHeader;
      if (n > kMaxFrame) {
        return "bad frame: it announces " + std::to_string(n) + " bytes, more than the limit of " +
               std::to_string(kMaxFrame);
      }
      rpc::PushTasksRequest request;
      bool parsed;
      if (n <= buf_.size()) {
        got = Need(n);
        if (got == Got::kEof) return "the connection ended inside a frame of " + std::to_string(n) + " bytes";
        if (got == Got::kError) return "cannot read: " + ReadError();
        parsed = request.ParseFromArray(buf_.data() + begin_, static_cast<int>(n));
        begin_ += n;
      } else {
        std::string body(n, '\0');
        size_t have = end_ - begin_;
        std::memcpy(body.data(), buf_.data() + begin_, have);
        begin_ = end_ = 0;
        got = ReadInto(body.data() + have, n - have);
        if (got == Got::kEof) return "the connection ended inside a frame of " + std::to_string(n) + " bytes";
        if (got == Got::kError) return "cannot read: " + ReadError();
        parsed = request.ParseFromString(body);
      }
      if (!parsed) return "bad frame: its " + std::to_string(n) + " bytes are not a PushTasksRequest";
      std::string bad = CheckPush(request);
      if (!bad.empty()) return "bad frame: " + bad;
      bad = Take(request);
      if (!bad.empty()) return "bad frame: " + bad;
    }
  }

  /// Polls the socket for spin_ (spin.h) until it has bytes to read, has
  /// ended or failed, so the blocking read that follows does not sleep when
  /// the next frame comes meanwhile. Leaves the bytes (and errors) to it.
  void AwaitInput() {
    if (tls_ != nullptr && tls_->Pending()) return;
    SpinWhilePays(spin_, [this] {
      char byte;
      ssize_t k = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      return k >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    });
  }

  /// Until at least `n` (at most the buffer's size) bytes are buffered.
  Got Need(size_t n) {
    if (end_ - begin_ >= n) return Got::kOk;
    if (begin_ + n > buf_.size()) {  // make room at the end
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    while (end_ - begin_ < n) {
      ssize_t k = Recv(buf_.data() + end_, buf_.size() - end_);
      if (k == 0) return Got::kEof;
      if (k < 0) {
        if (errno == EINTR) continue;
        read_errno_ = errno;
        return Got::kError;
      }
      end_ += static_cast<size_t>(k);
    }
    return Got::kOk;
  }

  /// Exactly `n` bytes into `dst`, unbuffered (the rest of a large frame).
  Got ReadInto(char* dst, size_t n) {
    while (n > 0) {
      ssize_t k = Recv(dst, n);
      if (k == 0) return Got::kEof;
      if (k < 0) {
        if (errno == EINTR) continue;
        read_errno_ = errno;
        return Got::kError;
      }
      dst += k;
      n -= static_cast<size_t>(k);
    }
    return Got::kOk;
  }

  /// Queues the tasks of a frame, in order (none once the connection broke:
  /// nobody would get their results).
  /// A task that fails its check (validation.h) gets an error result naming
  /// the field; one that cannot be answered ends the connection (returns why).
  std::string Take(rpc::PushTasksRequest& request) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (broken_) return "";
      pending_ += request.tasks_size();
    }
    std::shared_ptr<Connection> self = shared_from_this();
    LeaseGuard& guard = LeaseGuard::Process();
    guard.Open(request, lease_);
    for (rpc::TaskSpec& spec : *request.mutable_tasks()) {
      std::string bad = CheckTaskSpec(spec);
      if (!bad.empty()) {
        if (!TaskAddressable(spec)) return "a task that cannot be answered: " + bad;
        std::fprintf(stderr, "polyray C++ worker %s: rejecting a pushed task: %s\n", worker_.c_str(), bad.c_str());
        Reply(InvalidTaskResult(spec, bad, worker_));
        continue;
      }
      if (guard.enabled()) {
        std::string why = guard.Refusal(lease_, spec);
        if (!why.empty()) {
          std::fprintf(stderr, "polyray C++ worker %s: refusing a pushed task: %s\n", worker_.c_str(), why.c_str());
          Reply(RefusedTaskResult(spec, why, worker_));
          continue;
        }
      }
      receiver_.Enqueue(std::make_shared<rpc::TaskSpec>(std::move(spec)),
                        [self](rpc::TaskResult result) { self->Reply(std::move(result)); });
    }
    return "";
  }

  /// Marks the connection broken, saying why once. Caller holds mu_.
  void BreakLocked(const std::string& reason) {
    if (!broken_) {
      std::fprintf(stderr, "polyray C++ worker %s: dropping a push connection from %s: %s\n", worker_.c_str(),
                   peer_.c_str(), reason.c_str());
      std::fflush(stderr);
    }
    broken_ = true;
    ready_.clear();
  }

  /// Closes the socket once nobody uses it and nothing is owed on it.
  /// Caller holds mu_.
  void CloseIfDoneLocked() {
    if (closed_ || reading_ || writing_) return;
    if (!broken_ && (pending_ > 0 || !ready_.empty())) return;
    closed_ = true;
    ::close(fd_);
  }

  const int fd_;
  SSL_CTX* const tls_ctx_;          // the port's TLS, or nullptr
  std::unique_ptr<TlsSocket> tls_;  // set by the reader before any task is read
  const std::string peer_;
  const std::string worker_;
  StreamLease lease_;  // what this connection proved (lease_proof.h); its reader thread only
  TaskReceiver& receiver_;
  const std::chrono::nanoseconds spin_;
  // The reader thread's own: the receive buffer and its filled part.
  std::vector<char> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  int read_errno_ = 0;
  std::atomic<bool> finished_{false};

  std::mutex mu_;
  std::vector<rpc::TaskResult> ready_;  // results not yet written; guarded by mu_
  int64_t pending_ = 0;                 // tasks queued whose result has not come; guarded by mu_
  bool reading_ = true;                 // the reader may still use the socket; guarded by mu_
  bool writing_ = false;                // a thread is writing; guarded by mu_
  bool broken_ = false;                 // no more results go out; guarded by mu_
  bool closed_ = false;                 // guarded by mu_
};

// ------------------------------------------------------------------ PushPort

PushPort::PushPort(TaskReceiver& receiver, std::string worker_id)
    : receiver_(receiver), worker_id_(ShortHex(worker_id)), spin_(SpinTime()) {}

PushPort::~PushPort() { Stop(); }

int PushPort::Start(const std::string& host) {
  tls_ = PushTlsContext(true);  // throws polyray::Error when the TLS files are unusable
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), "0", &hints, &found);
  if (rc != 0) {
    throw polyray::Error("cannot open the push port of worker " + worker_id_ + " on " + host + ": " +
                         ::gai_strerror(rc));
  }
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr && listen_fd_ < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      why = ErrnoText(errno);
      continue;
    }
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
      listen_fd_ = fd;
    } else {
      why = ErrnoText(errno);
      ::close(fd);
    }
  }
  ::freeaddrinfo(found);
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  if (listen_fd_ >= 0 && ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    why = ErrnoText(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  if (listen_fd_ >= 0 && ::pipe2(wake_fds_, O_CLOEXEC) != 0) {
    why = ErrnoText(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  if (listen_fd_ < 0) {
    throw polyray::Error("cannot open the push port of worker " + worker_id_ + " on " + host + ": " + why);
  }
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return port_;
}

void PushPort::AcceptLoop() {
  pthread_setname_np(pthread_self(), "polyray-push");
  int wait_ms = -1;  // after a failed accept (out of fds...), a pause
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, wait_ms);
    if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "polyray C++ worker %s: the push port stops accepting: poll: %s\n", worker_id_.c_str(),
                   ErrnoText(errno).c_str());
      return;
    }
    if (fds[1].revents != 0) return;  // Stop
    wait_ms = -1;
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);  // a blocking socket
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) wait_ms = 100;
      continue;  // EAGAIN, EINTR, ECONNABORTED: nothing to take
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto connection = std::make_shared<Connection>(fd, PeerName(peer), worker_id_, receiver_, spin_, tls_);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;  // `connection` closes its socket
    ReapLocked();
    std::thread reader;
    try {
      reader = std::thread([connection] { connection->ReadLoop(); });
    } catch (const std::system_error& e) {
      std::fprintf(stderr, "polyray C++ worker %s: refusing a push connection from %s: no thread: %s\n",
                   worker_id_.c_str(), PeerName(peer).c_str(), e.what());
      continue;  // `connection` closes its socket
    }
    served_.push_back(Served{std::move(connection), std::move(reader)});
  }
}

void PushPort::ReapLocked() {
  for (size_t i = 0; i < served_.size();) {
    if (served_[i].connection->finished()) {
      served_[i].reader.join();
      served_[i] = std::move(served_.back());
      served_.pop_back();
    } else {
      ++i;
    }
  }
}

void PushPort::Stop() {
  std::vector<Served> served;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    served.swap(served_);  // the accept thread adds none after this
  }
  if (wake_fds_[1] >= 0) {
    char byte = 1;
    while (::write(wake_fds_[1], &byte, 1) < 0 && errno == EINTR) {
    }
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  for (int* fd : {&listen_fd_, &wake_fds_[0], &wake_fds_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  for (Served& s : served) s.connection->Abort();
  for (Served& s : served) s.reader.join();
}

}  // namespace polyray::core

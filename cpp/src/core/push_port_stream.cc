// PushPortStream of push_port_stream.h, on plain POSIX sockets.
//
// The socket is non-blocking from the start; writers use MSG_DONTWAIT and
// leave what the socket did not take in out_ for the I/O thread, which then
// polls for POLLOUT too. Whoever changes what the I/O thread should poll for
// (a write left over, a break) writes to the eventfd.
#include "core/push_port_stream.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include "core/auth.h"
#include "core/push_frame.h"
#include "core/push_tls.h"
#include "core/spin.h"

namespace polyray::core {
namespace {

/// Bytes asked of the kernel at a time, and the size the buffer shrinks back
/// to after a large frame.
constexpr size_t kReadChunk = 64 * 1024;

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

std::string Where(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

/// This process's spin (spin.h); none when POLYRAY_SPIN_US is bad (a
/// worker refuses to start with a bad value; a driver runs on without).
std::chrono::nanoseconds SpinOrNone() {
  try {
    return SpinTime();
  } catch (const std::invalid_argument&) {
    return std::chrono::nanoseconds(0);
  }
}

}  // namespace

std::shared_ptr<PushPortStream> PushPortStream::Open(const std::string& host, int port, ReplyCallback on_reply,
                                                     DoneCallback on_done, std::chrono::milliseconds connect_timeout) {
  std::shared_ptr<PushPortStream> s(
      new PushPortStream(host, port, std::move(on_reply), std::move(on_done), connect_timeout));
  s->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  std::thread([s] { s->Run(); }).detach();  // holds the stream until on_done has run
  return s;
}

PushPortStream::PushPortStream(const std::string& host, int port, ReplyCallback on_reply, DoneCallback on_done,
                               std::chrono::milliseconds connect_timeout)
    : host_(host),
      port_(port),
      where_(Where(host, port)),
      connect_timeout_(connect_timeout),
      spin_(SpinOrNone()),
      on_reply_(std::move(on_reply)),
      on_done_(std::move(on_done)),
      buf_(kReadChunk),
      // The first frame of every connection: the cluster token (PushHello),
      // written once connected, before any task.
      out_(PushHelloFrame()) {}

PushPortStream::~PushPortStream() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void PushPortStream::Wake() {
  uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

// ------------------------------------------------------------------ senders

void PushPortStream::Send(std::vector<rpc::TaskSpec> specs) {
  std::unique_lock<std::mutex> lock(mu_);
  if (closing_ || ending_ || !error_.empty()) return;  // the owner fails what is in flight
  if (queued_.empty()) {
    queued_ = std::move(specs);
  } else {
    for (rpc::TaskSpec& s : specs) queued_.push_back(std::move(s));
  }
  // With a write left over, the I/O thread is waiting for the socket: this
  // batch follows that write.
  if (connected_ && !writing_ && out_off_ == out_.size()) FlushLocked(lock);
}

void PushPortStream::Close() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closing_) return;
  closing_ = true;
  if (connected_ && !ending_ && !writing_ && error_.empty() && out_off_ == out_.size()) FlushLocked(lock);
}

void PushPortStream::FlushLocked(std::unique_lock<std::mutex>& lock) {
  writing_ = true;
  while (error_.empty()) {
    if (out_off_ == out_.size()) {  // the last frame is out: build the next
      out_.clear();
      out_off_ = 0;
      if (queued_.empty()) break;
      std::vector<rpc::TaskSpec> batch;
      batch.swap(queued_);
      outstanding_ += static_cast<int64_t>(batch.size());
      rpc::PushTasksRequest request;
      AttachLease(request);
      lock.unlock();
      request.mutable_tasks()->Reserve(static_cast<int>(batch.size()));
      for (rpc::TaskSpec& spec : batch) *request.add_tasks() = std::move(spec);
      size_t size = request.ByteSizeLong();
      std::string frame;
      if (size <= kMaxPushFrame) AppendPushFrame(request, frame);
      lock.lock();
      if (size > kMaxPushFrame) {
        BreakLocked("cannot push to the worker at " + where_ + ": a request of " + std::to_string(size) +
                    " bytes is more than the push frame limit of " + std::to_string(kMaxPushFrame));
        break;
      }
      out_ = std::move(frame);
    }
    lock.unlock();
    ssize_t k = tls_ != nullptr ? tls_->Write(out_.data() + out_off_, out_.size() - out_off_, false)
                                : ::send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL | MSG_DONTWAIT);
    int err = errno;
    lock.lock();
    if (k >= 0) {
      out_off_ += static_cast<size_t>(k);
    } else if (err == EAGAIN || err == EWOULDBLOCK) {
      Wake();  // the I/O thread writes the rest when the socket takes it
      break;
    } else if (err != EINTR) {
      BreakLocked("the push connection to the worker at " + where_ + " broke: cannot send: " +
                  (tls_ != nullptr && err == EPROTO ? tls_->error() : ErrnoText(err)));
    }
  }
  if (error_.empty() && closing_ && !shut_wr_ && queued_.empty() && out_off_ == out_.size()) {
    ::shutdown(fd_, SHUT_WR);
    shut_wr_ = true;
  }
  writing_ = false;
  if (ending_) no_writer_.notify_all();
}

void PushPortStream::BreakLocked(const std::string& why) {
  if (!error_.empty() || clean_end_) return;
  error_ = why;
  Wake();
}

// ------------------------------------------------------------------ the I/O thread

int PushPortStream::Connect(std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &found);
  if (rc != 0) {
    why = ::gai_strerror(rc);
    return -1;
  }
  auto deadline = std::chrono::steady_clock::now() + connect_timeout_;
  int fd = -1;
  why = "no address";
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      why = ErrnoText(errno);
      continue;
    }
    int err = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    while (err == EINPROGRESS || err == EINTR) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        err = ETIMEDOUT;
        break;
      }
      pollfd p{fd, POLLOUT, 0};
      int n = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
      if (n < 0 && errno != EINTR) {
        err = errno;
      } else if (n > 0) {
        socklen_t len = sizeof(err);
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err != 0) {
      why = err == ETIMEDOUT ? "no connection within " + std::to_string(connect_timeout_.count()) + " ms"
                             : ErrnoText(err);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd >= 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

void PushPortStream::Run() {
  pthread_setname_np(pthread_self(), "polyray-push-cl");
  std::string why;
  auto deadline = std::chrono::steady_clock::now() + connect_timeout_;
  int fd = -1;
  SSL_CTX* tls = nullptr;
  try {
    tls = PushTlsContext(false);
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (why.empty()) fd = Connect(why);
  if (fd >= 0 && tls != nullptr) {
    // Mutual TLS (push_tls.h) before any frame; a worker that refuses our
    // certificate ends the stream at the handshake or at the first read.
    tls_ = std::make_unique<TlsSocket>(tls, fd, false, host_);
    std::string failed = tls_->Handshake(deadline);
    if (!failed.empty()) {
      why = "TLS handshake failed: " + failed;
      tls_.reset();
      ::close(fd);
      fd = -1;
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (fd < 0) {
    BreakLocked("cannot connect to the worker's push port " + where_ + ": " + why);
  } else {
    fd_ = fd;
    connected_ = true;
    FlushLocked(lock);  // what was sent (or closed) while connecting
  }
  while (error_.empty() && !clean_end_) {
    bool want_out = !writing_ && out_off_ < out_.size();
    bool awaited = outstanding_ > 0;
    lock.unlock();
    pollfd fds[2] = {{fd_, static_cast<short>(POLLIN | (want_out ? POLLOUT : 0)), 0}, {wake_fd_, POLLIN, 0}};
    // Results are owed: poll for a while before sleeping (spin.h), so a
    // reply that comes meanwhile does not have to wake this thread.
    int n = 0;
    if (tls_ != nullptr && tls_->Pending()) {
      n = 1;  // decrypted bytes wait in OpenSSL: no poll would report them
      fds[0].revents = POLLIN;
    } else {
      if (awaited) SpinWhilePays(spin_, [&] { return (n = ::poll(fds, 2, 0)) != 0; });
      if (n == 0) n = ::poll(fds, 2, -1);
    }
    int err = errno;
    if (fds[1].revents != 0) {
      uint64_t count;
      while (::read(wake_fd_, &count, sizeof(count)) < 0 && errno == EINTR) {
      }
    }
    if (n > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) ReadAvailable();
    lock.lock();
    if (n < 0 && err != EINTR) BreakLocked("cannot poll the push connection to " + where_ + ": " + ErrnoText(err));
    if (n > 0 && error_.empty() && !clean_end_ && !writing_ && out_off_ < out_.size() &&
        (fds[0].revents & POLLOUT) != 0) {
      FlushLocked(lock);
    }
  }
  ending_ = true;  // no new writer from here on
  no_writer_.wait(lock, [this] { return !writing_; });
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  connected_ = false;
  queued_.clear();
  out_.clear();
  out_off_ = 0;
  grpc::Status status = error_.empty() ? grpc::Status::OK : grpc::Status(grpc::StatusCode::UNAVAILABLE, error_);
  lock.unlock();
  on_done_(status);
  on_reply_ = nullptr;  // the owner's captures go now, not with the last reference
  on_done_ = nullptr;
}

void PushPortStream::ReadAvailable() {
  if (end_ == buf_.size()) buf_.resize(buf_.size() + kReadChunk);  // never a read of 0 bytes (it would look like EOF)
  ssize_t k = tls_ != nullptr ? tls_->Read(buf_.data() + end_, buf_.size() - end_, false)
                              : ::recv(fd_, buf_.data() + end_, buf_.size() - end_, MSG_DONTWAIT);
  if (k < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    int err = errno;
    std::string what = tls_ != nullptr && err == EPROTO ? tls_->error() : ErrnoText(err);
    std::lock_guard<std::mutex> lock(mu_);
    BreakLocked("the push connection to the worker at " + where_ + " broke: " + what);
    return;
  }
  if (k == 0) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string left = std::to_string(outstanding_) + " result(s) outstanding";
    if (end_ > begin_) {
      BreakLocked("the worker at " + where_ + " closed its push connection inside a frame (" + left + ")");
    } else if (!shut_wr_) {
      BreakLocked("the worker at " + where_ + " closed its push connection before the caller was done (" + left +
                  ")");
    } else if (outstanding_ > 0) {
      BreakLocked("the worker at " + where_ + " closed its push connection with " + left);
    } else {
      clean_end_ = true;
    }
    return;
  }
  end_ += static_cast<size_t>(k);
  rpc::PushTasksReply reply;
  while (end_ - begin_ >= kPushFrameHeader) {
    uint32_t n = PushFrameLength(buf_.data() + begin_);
    if (n > kMaxPushFrame) {
      std::lock_guard<std::mutex> lock(mu_);
      BreakLocked("bad frame from the worker at " + where_ + ": it announces " + std::to_string(n) +
                  " bytes, more than the limit of " + std::to_string(kMaxPushFrame));
      return;
    }
    if (end_ - begin_ - kPushFrameHeader < n) break;
    if (!reply.ParseFromArray(buf_.data() + begin_ + kPushFrameHeader, static_cast<int>(n))) {
      std::lock_guard<std::mutex> lock(mu_);
      BreakLocked("bad frame from the worker at " + where_ + ": its " + std::to_string(n) +
                  " bytes are not a PushTasksReply");
      return;
    }
    begin_ += kPushFrameHeader + n;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const rpc::TaskResult& r : reply.results()) outstanding_ -= r.generator_item() ? 0 : 1;  // items precede their task's end
    }
    on_reply_(reply);
  }
  // Keep the unread part at the front, with room for the frame it starts.
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (buf_.size() > kReadChunk) std::vector<char>(kReadChunk).swap(buf_);
  } else if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ >= kPushFrameHeader) {
    size_t need = kPushFrameHeader + PushFrameLength(buf_.data());
    if (buf_.size() < need) buf_.resize(need);
  }
}

}  // namespace polyray::core

// PushTlsContext and TlsSocket of push_tls.h.
#include "core/push_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/auth.h"
#include "polyray/exceptions.h"

namespace polyray::core {
namespace {

std::string Trim(const char* v) {
  std::string s = v != nullptr ? v : "";
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

/// The path a variable names; the errors say as auth.cc's do.
std::string TlsPath(const char* var) {
  std::string path = Trim(std::getenv(var));
  if (path.empty()) {
    throw polyray::Error(std::string("POLYRAY_USE_TLS is set but ") + var +
                         " is not (polyray tls generate DIR makes a set)");
  }
  if (::access(path.c_str(), R_OK) != 0) {
    int err = errno;
    throw polyray::Error(std::string("cannot read ") + var + " " + path + ": " + std::strerror(err));
  }
  return path;
}

/// OpenSSL's queued errors, in words (and cleared).
std::string SslErrors() {
  std::string out;
  for (unsigned long e; (e = ERR_get_error()) != 0;) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

SSL_CTX* Build(bool server) {
  std::string ca = TlsPath("POLYRAY_TLS_CA_CERT");
  std::string cert = TlsPath("POLYRAY_TLS_SERVER_CERT");
  std::string key = TlsPath("POLYRAY_TLS_SERVER_KEY");
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) throw polyray::Error("cannot set up TLS for the push port: " + SslErrors());
  std::string why;
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    why = "TLS 1.2";
  } else if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    why = "POLYRAY_TLS_SERVER_CERT " + cert;
  } else if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    why = "POLYRAY_TLS_SERVER_KEY " + key;
  } else if (SSL_CTX_check_private_key(ctx) != 1) {
    why = "POLYRAY_TLS_SERVER_KEY " + key + " does not match POLYRAY_TLS_SERVER_CERT " + cert;
  } else if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
    why = "POLYRAY_TLS_CA_CERT " + ca;
  }
  if (!why.empty()) {
    std::string detail = SslErrors();
    SSL_CTX_free(ctx);
    throw polyray::Error("cannot set up TLS for the push port: " + why + ": " + detail);
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  if (server) {
    // A caller may resume an earlier session (JSSE does, to a host:port it
    // spoke to before: a worker leased again, then made an actor). With
    // SSL_VERIFY_PEER OpenSSL refuses a resumption unless the sessions carry
    // a context id ("session id context uninitialized").
    static const unsigned char kSessionContext[] = "polyray-push";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  }
  uint64_t options = SSL_OP_NO_RENEGOTIATION;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  options |= SSL_OP_IGNORE_UNEXPECTED_EOF;
#endif
  SSL_CTX_set_options(ctx, options);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

/// Waits for `events` on `fd` until `deadline_ms` (-1: no limit); false on a poll error.
bool Wait(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int n = ::poll(&p, 1, timeout_ms);
  return n >= 0 || errno == EINTR;
}

}  // namespace

SSL_CTX* PushTlsContext(bool server) {
  if (!TlsEnabled()) return nullptr;
  static std::mutex mu;
  static SSL_CTX* contexts[2] = {nullptr, nullptr};
  std::lock_guard<std::mutex> lock(mu);
  SSL_CTX*& ctx = contexts[server ? 1 : 0];
  if (ctx == nullptr) {
    ctx = Build(server);
    // OpenSSL writes with write(2), which raises SIGPIPE on a connection the
    // peer closed: ignore it (unless the program chose a handler), so such a
    // write fails with EPIPE as the plain push port's send(MSG_NOSIGNAL) does.
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  }
  return ctx;
}

TlsSocket::TlsSocket(SSL_CTX* ctx, int fd, bool server, const std::string& host) : fd_(fd), server_(server) {
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) {
    error_ = "SSL_new: " + SslErrors();
    return;
  }
  SSL_set_fd(ssl_, fd);
  if (!server && !host.empty()) {
    unsigned char addr[16];
    bool ip = ::inet_pton(AF_INET, host.c_str(), addr) == 1 || ::inet_pton(AF_INET6, host.c_str(), addr) == 1;
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_, host.c_str());
      SSL_set1_host(ssl_, host.c_str());
    }
  }
}

TlsSocket::~TlsSocket() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

std::string TlsSocket::error() {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

std::string TlsSocket::Handshake(std::chrono::steady_clock::time_point deadline) {
  std::lock_guard<std::mutex> lock(mu_);  // nobody else uses the connection yet
  if (ssl_ == nullptr) return error_;
  while (true) {
    ERR_clear_error();
    errno = 0;
    int rc = server_ ? SSL_accept(ssl_) : SSL_connect(ssl_);
    if (rc == 1) return "";
    int e = SSL_get_error(ssl_, rc);
    int err = errno;
    short events;
    if (e == SSL_ERROR_WANT_READ) {
      events = POLLIN;
    } else if (e == SSL_ERROR_WANT_WRITE) {
      events = POLLOUT;
    } else {
      long verify = SSL_get_verify_result(ssl_);
      std::string detail = SslErrors();
      if (verify != X509_V_OK) {
        detail += std::string(detail.empty() ? "" : "; ") + "peer certificate: " +
                  X509_verify_cert_error_string(verify);
      }
      if (detail.empty()) detail = err != 0 ? std::strerror(err) : "the peer closed the connection";
      error_ = detail;
      return detail;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      error_ = "no TLS handshake before the deadline";
      return error_;
    }
    if (!Wait(fd_, events, static_cast<int>(left.count()) + 1)) {
      error_ = std::string("poll: ") + std::strerror(errno);
      return error_;
    }
  }
}

ssize_t TlsSocket::Read(char* buf, size_t n, bool wait) {
  while (true) {
    int e;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ERR_clear_error();
      errno = 0;
      int rc = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(n, INT_MAX)));
      if (rc > 0) return rc;
      e = SSL_get_error(ssl_, rc);
      int err = errno;
      if (e == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify, or a bare TCP end
      if (e == SSL_ERROR_SYSCALL && err == 0 && ERR_peek_error() == 0) return 0;
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        std::string detail = SslErrors();
        error_ = !detail.empty() ? "TLS: " + detail : std::strerror(err != 0 ? err : ECONNRESET);
        errno = e == SSL_ERROR_SYSCALL && err != 0 ? err : EPROTO;
        return -1;
      }
    }
    if (!wait) {
      errno = EAGAIN;
      return -1;
    }
    if (!Wait(fd_, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, -1)) return -1;
  }
}

ssize_t TlsSocket::Write(const char* buf, size_t n, bool wait) {
  while (true) {
    int e;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ERR_clear_error();
      errno = 0;
      int rc = SSL_write(ssl_, buf, static_cast<int>(std::min<size_t>(n, INT_MAX)));
      if (rc > 0) return rc;
      e = SSL_get_error(ssl_, rc);
      int err = errno;
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        std::string detail = SslErrors();
        error_ = !detail.empty() ? "TLS: " + detail : std::strerror(err != 0 ? err : EPIPE);
        errno = e == SSL_ERROR_SYSCALL && err != 0 ? err : EPROTO;
        return -1;
      }
    }
    if (!wait) {
      errno = EAGAIN;
      return -1;
    }
    if (!Wait(fd_, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, -1)) return -1;
  }
}

bool TlsSocket::Pending() {
  std::lock_guard<std::mutex> lock(mu_);
  return ssl_ != nullptr && SSL_pending(ssl_) > 0;
}

}  // namespace polyray::core

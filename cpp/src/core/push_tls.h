// Mutual TLS for the push port (docs/security.md, "TLS"), with OpenSSL.
//
// Under POLYRAY_USE_TLS=1 a worker's push port (push_port.h) and every
// caller's connection to one (push_port_stream.h) speak TLS with the files
// gRPC uses: this node's POLYRAY_TLS_SERVER_CERT / POLYRAY_TLS_SERVER_KEY on
// both ends, and a peer must show a certificate POLYRAY_TLS_CA_CERT signed
// (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT); a caller also checks
// that the worker's certificate names the host it dialled, as gRPC does.
// The frames inside are unchanged and the PushHello still comes first.
//
// The caller's half-close stays a TCP FIN (no close_notify: Python's asyncio
// cannot send one and keep reading), so a TCP end without close_notify reads
// as a clean end (SSL_OP_IGNORE_UNEXPECTED_EOF). Renegotiation is off, so a
// write never has to read.
//
// TlsSocket serializes every OpenSSL call on a connection with its mutex
// (OpenSSL allows no concurrent SSL_read and SSL_write); waiting for the
// socket (poll) happens outside it, so a reader waiting for input never
// holds up a writer. The socket must be non-blocking.
#ifndef POLYRAY_CORE_PUSH_TLS_H_
#define POLYRAY_CORE_PUSH_TLS_H_

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace polyray::core {

/// This process's push-port TLS context (built once, server or client side),
/// or nullptr when POLYRAY_USE_TLS is off. Throws polyray::Error naming the
/// variable and the file when one is unset or unusable.
SSL_CTX* PushTlsContext(bool server);

/// One connection's TLS over a non-blocking socket it does not own.
class TlsSocket {
 public:
  /// `host` (client side): the name or address the certificate must show.
  TlsSocket(SSL_CTX* ctx, int fd, bool server, const std::string& host);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  /// Runs the handshake until it is done or `deadline`; "" or why it failed.
  std::string Handshake(std::chrono::steady_clock::time_point deadline);
  /// As recv(2): bytes read, 0 at the end, or -1 with errno set (EAGAIN when
  /// !wait and nothing is ready; EPROTO for a TLS error, see error()).
  ssize_t Read(char* buf, size_t n, bool wait);
  /// As send(2): bytes taken, or -1 with errno set (EAGAIN when !wait and the
  /// socket takes nothing now: call again with the same bytes).
  ssize_t Write(const char* buf, size_t n, bool wait);
  /// Whether decrypted bytes wait in OpenSSL (a poll of the socket does not see them).
  bool Pending();
  /// The last failure, in words.
  std::string error();

 private:
  SSL* ssl_ = nullptr;
  const int fd_;
  const bool server_;
  std::mutex mu_;
  std::string error_;  // guarded by mu_
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_PUSH_TLS_H_

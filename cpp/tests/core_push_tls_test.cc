// The push port's TLS (src/core/push_tls.h) over real sockets with real
// certificates: a throwaway CA and node certificate made with the openssl
// command as `polyray tls generate` makes them, and a second CA with its own
// node certificate. Each test runs both ends of a socket pair on two threads.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "core/push_tls.h"

namespace polyray::core {
namespace {

using Clock = std::chrono::steady_clock;

std::string dir;

/// Writes ca.crt, node.crt, node.key under `sub` (SAN 127.0.0.1 and localhost).
void Generate(const std::string& sub) {
  std::string d = dir + "/" + sub;
  std::string cmd = "mkdir -p " + d + " && cd " + d +
                    " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
                    "extendedKeyUsage=serverAuth,clientAuth\\n' > ext.cnf"
                    " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2"
                    " -subj '/CN=test CA " + sub + "' 2>/dev/null"
                    " && openssl req -newkey rsa:2048 -nodes -keyout node.key -out node.csr -subj '/CN=node'"
                    " 2>/dev/null"
                    " && openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out node.crt"
                    " -days 2 -extfile ext.cnf 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

class PushTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/polyray-push-tls-test-XXXXXX";
    dir = ::mkdtemp(tmpl);
    Generate("good");
    Generate("other");
    ::setenv("POLYRAY_USE_TLS", "1", 1);
    ::setenv("POLYRAY_TLS_CA_CERT", (dir + "/good/ca.crt").c_str(), 1);
    ::setenv("POLYRAY_TLS_SERVER_CERT", (dir + "/good/node.crt").c_str(), 1);
    ::setenv("POLYRAY_TLS_SERVER_KEY", (dir + "/good/node.key").c_str(), 1);
  }
  static void TearDownTestSuite() {
    std::system(("rm -rf " + dir).c_str());
    ::unsetenv("POLYRAY_USE_TLS");
  }

  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
    for (int fd : fds_) ASSERT_EQ(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
  }

  /// A client context trusting `ca`, presenting `cert`/`key` (none when empty).
  static SSL_CTX* Client(const std::string& ca, const std::string& cert, const std::string& key) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    EXPECT_EQ(SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr), 1);
    if (!cert.empty()) {
      EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()), 1);
      EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM), 1);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    return ctx;
  }

  /// The server's handshake result while `client` runs on another thread.
  std::string ServerHandshakeWith(const std::function<void(int)>& client) {
    std::thread t([&] { client(fds_[1]); });
    TlsSocket server(PushTlsContext(true), fds_[0], true, "");
    std::string why = server.Handshake(Clock::now() + std::chrono::seconds(10));
    if (why.empty()) {  // TLS 1.3: the client's certificate is judged on the first read
      char buf[16];
      if (server.Read(buf, sizeof(buf), true) < 0) why = server.error();
    }
    ::shutdown(fds_[0], SHUT_RDWR);
    t.join();
    return why;
  }

  int fds_[2] = {-1, -1};
};

TEST_F(PushTlsTest, FramesBothWaysAndABareTcpEndReadsAsTheEnd) {
  std::string got_by_client;
  std::thread client([&] {
    TlsSocket c(PushTlsContext(false), fds_[1], false, "127.0.0.1");
    ASSERT_EQ(c.Handshake(Clock::now() + std::chrono::seconds(10)), "");
    std::string hello = "hello worker";
    ASSERT_EQ(c.Write(hello.data(), hello.size(), true), static_cast<ssize_t>(hello.size()));
    char buf[64];
    ssize_t k = c.Read(buf, sizeof(buf), true);
    ASSERT_GT(k, 0) << c.error();
    got_by_client.assign(buf, static_cast<size_t>(k));
    ::shutdown(fds_[1], SHUT_WR);  // the caller's half-close: a bare TCP end, no close_notify
  });
  TlsSocket server(PushTlsContext(true), fds_[0], true, "");
  ASSERT_EQ(server.Handshake(Clock::now() + std::chrono::seconds(10)), "");
  char buf[64];
  ssize_t k = server.Read(buf, sizeof(buf), true);
  ASSERT_GT(k, 0) << server.error();
  EXPECT_EQ(std::string(buf, static_cast<size_t>(k)), "hello worker");
  // Nothing ready yet without waiting: EAGAIN, as recv(2) on a non-blocking socket.
  std::string reply = "hello caller";
  ASSERT_EQ(server.Write(reply.data(), reply.size(), true), static_cast<ssize_t>(reply.size()));
  EXPECT_EQ(server.Read(buf, sizeof(buf), true), 0) << server.error();  // the half-close is the end
  client.join();
  EXPECT_EQ(got_by_client, "hello caller");
  EXPECT_FALSE(server.Pending());
}

TEST_F(PushTlsTest, ANonWaitingReadWithNothingReadyIsEagain) {
  std::thread client([&] {
    TlsSocket c(PushTlsContext(false), fds_[1], false, "127.0.0.1");
    ASSERT_EQ(c.Handshake(Clock::now() + std::chrono::seconds(10)), "");
    char buf[8];
    c.Read(buf, sizeof(buf), true);  // until the server shuts the pair down
  });
  TlsSocket server(PushTlsContext(true), fds_[0], true, "");
  ASSERT_EQ(server.Handshake(Clock::now() + std::chrono::seconds(10)), "");
  char buf[8];
  errno = 0;
  EXPECT_EQ(server.Read(buf, sizeof(buf), false), -1);
  EXPECT_EQ(errno, EAGAIN);
  ::shutdown(fds_[0], SHUT_RDWR);
  client.join();
}

TEST_F(PushTlsTest, PlaintextIsRefusedAtTheHandshake) {
  std::string why = ServerHandshakeWith([](int fd) {
    const char frame[] = "\x05\x00\x00\x00hello";  // a frame as a plaintext caller sends it
    (void)::write(fd, frame, sizeof(frame) - 1);
  });
  EXPECT_FALSE(why.empty());
}

TEST_F(PushTlsTest, ClientsWithoutTheClusterCertificateAreRefused) {
  struct Case {
    const char* who;
    std::string cert;  // the client's certificate and key ("": none)
    std::string key;
  };
  const Case cases[] = {
      {"a client without a certificate", "", ""},
      {"a client whose certificate another CA signed", dir + "/other/node.crt", dir + "/other/node.key"},
  };
  bool first = true;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.who);
    if (!first) {  // a fresh pair for each case after the first, as SetUp makes it
      TearDown();
      SetUp();
    }
    first = false;
    SSL_CTX* ctx = Client(dir + "/good/ca.crt", c.cert, c.key);
    std::string why = ServerHandshakeWith([ctx](int fd) {
      TlsSocket t(ctx, fd, false, "127.0.0.1");
      if (t.Handshake(Clock::now() + std::chrono::seconds(10)).empty()) {
        char buf[8];
        t.Read(buf, sizeof(buf), true);
      }
    });
    SSL_CTX_free(ctx);
    EXPECT_NE(why.find("certificate"), std::string::npos) << why;
  }
}

TEST_F(PushTlsTest, TheCallerChecksTheWorkerCertificateNamesTheHostDialled) {
  std::string client_why;
  std::thread client([&] {
    TlsSocket c(PushTlsContext(false), fds_[1], false, "10.9.8.7");  // not in the certificate
    client_why = c.Handshake(Clock::now() + std::chrono::seconds(10));
    ::shutdown(fds_[1], SHUT_RDWR);
  });
  TlsSocket server(PushTlsContext(true), fds_[0], true, "");
  std::string server_why = server.Handshake(Clock::now() + std::chrono::seconds(10));
  client.join();
  EXPECT_NE(client_why.find("certificate"), std::string::npos) << client_why;
  EXPECT_FALSE(server_why.empty());
}

TEST_F(PushTlsTest, ACallerResumingASessionIsServed) {
  // JSSE resumes a session to a host:port it spoke to before (a worker leased
  // again, then made an actor); the worker must serve it, not fail it.
  SSL_CTX* ctx = Client(dir + "/good/ca.crt", dir + "/good/node.crt", dir + "/good/node.key");
  SSL_SESSION* session = nullptr;
  for (int round = 0; round < 2; ++round) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    ASSERT_EQ(::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK), 0);
    bool resumed = false;
    std::string got;
    std::thread client([&] {  // a blocking OpenSSL client, as another language's caller
      SSL* s = SSL_new(ctx);
      SSL_set_fd(s, fds[1]);
      if (session != nullptr) SSL_set_session(s, session);
      if (SSL_connect(s) == 1 && SSL_write(s, "hi", 2) == 2) {
        char buf[8];
        int k = SSL_read(s, buf, sizeof(buf));  // the echo (and TLS 1.3's session ticket)
        if (k > 0) got.assign(buf, static_cast<size_t>(k));
        resumed = SSL_session_reused(s) == 1;
        if (session == nullptr) session = SSL_get1_session(s);
        SSL_shutdown(s);  // else SSL_free marks the session not resumable
      }
      SSL_free(s);
      ::shutdown(fds[1], SHUT_RDWR);
    });
    std::string why;
    {
      TlsSocket server(PushTlsContext(true), fds[0], true, "");
      why = server.Handshake(Clock::now() + std::chrono::seconds(10));
      char buf[8];
      ssize_t k = why.empty() ? server.Read(buf, sizeof(buf), true) : -1;
      if (k > 0) {
        server.Write(buf, static_cast<size_t>(k), true);
      } else if (why.empty()) {
        why = "read: " + server.error();
      }
      ::shutdown(fds[0], SHUT_RDWR);
    }
    client.join();
    ::close(fds[0]);
    ::close(fds[1]);
    EXPECT_EQ(why, "") << "round " << round;
    EXPECT_EQ(got, "hi") << "round " << round;
    EXPECT_EQ(resumed, round == 1) << "round " << round;
  }
  if (session != nullptr) SSL_SESSION_free(session);
  SSL_CTX_free(ctx);
}

TEST_F(PushTlsTest, ASilentPeerEndsTheHandshakeAtTheDeadline) {
  TlsSocket server(PushTlsContext(true), fds_[0], true, "");
  auto start = Clock::now();
  std::string why = server.Handshake(start + std::chrono::milliseconds(300));
  EXPECT_NE(why.find("deadline"), std::string::npos) << why;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace polyray::core

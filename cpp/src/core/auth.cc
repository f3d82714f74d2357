// The cluster token of auth.h.
#include "core/auth.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/interceptor.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/push_frame.h"
#include "polyray/exceptions.h"
#include "polyray/protocol/core_worker.pb.h"

extern char** environ;

namespace polyray::core {
namespace {

constexpr const char* kKey = "authorization";
constexpr const char* kBearer = "Bearer ";

// What this process's auth did (benchmarks/auth_parts.py counts them per operation), as
// auth.py's COUNTS: calls served through the check and made with the token, hellos sent and
// checked. Relaxed atomic increments, always on.
std::atomic<uint64_t> g_served{0}, g_made{0}, g_hello_sent{0}, g_hello_checked{0};

// POLYRAY_AUTH_COUNT_DIR (read once, at load): write the counts to <dir>/cpp-<pid>.json every 100 ms.
bool StartCountDump() {
  const char* dir = std::getenv("POLYRAY_AUTH_COUNT_DIR");
  if (dir == nullptr || *dir == '\0') return false;
  std::string path = std::string(dir) + "/cpp-" + std::to_string(::getpid()) + ".json";
  std::thread([path] {
    for (;;) {
      {
        std::ofstream f(path + ".tmp", std::ios::trunc);
        f << "{\"served\": " << g_served.load() << ", \"made\": " << g_made.load()
          << ", \"hello_sent\": " << g_hello_sent.load() << ", \"hello_checked\": " << g_hello_checked.load()
          << "}";
      }
      std::rename((path + ".tmp").c_str(), path.c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }).detach();
  return true;
}
[[maybe_unused]] const bool g_count_dump = StartCountDump();

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string Get(const std::map<std::string, std::string>& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

std::string ReadTokenFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    int err = errno;
    throw polyray::Error("cannot read the polyray auth token file " + path + ": " + std::strerror(err));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  std::string token = Trim(ss.str());
  if (token.empty()) throw polyray::Error("the polyray auth token file " + path + " is empty");
  return token;
}

std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq != nullptr) env.emplace(std::string(static_cast<const char*>(*e), eq), std::string(eq + 1));
  }
  return env;
}

/// Adds the bearer token to the initial metadata of every call.
class ClientAuth : public grpc::experimental::Interceptor {
 public:
  explicit ClientAuth(const std::string* value) : value_(value) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      g_made.fetch_add(1, std::memory_order_relaxed);
      methods->GetSendInitialMetadata()->insert({kKey, *value_});
    }
    methods->Proceed();
  }

 private:
  const std::string* value_;
};

class ClientAuthFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ClientAuthFactory(std::string value) : value_(std::move(value)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new ClientAuth(&value_);
  }

 private:
  std::string value_;
};

/// Refuses a call without the token. The servers the runtime builds serve raw
/// (ByteBuffer) methods that parse their requests themselves and answer a
/// request that does not decode INVALID_ARGUMENT without running anything
/// (core_worker_server.cc): a refused call's every message is replaced by
/// bytes that never decode, and its status by UNAUTHENTICATED. So no handler
/// acts on a refused call, and nothing needs a per-method opt-in.
class ServerAuth : public grpc::experimental::Interceptor {
 public:
  ServerAuth(grpc::experimental::ServerRpcInfo* info, const std::string* expected)
      : info_(info), expected_(expected) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      g_served.fetch_add(1, std::memory_order_relaxed);
      auto* md = methods->GetRecvInitialMetadata();
      auto it = md->find(kKey);
      if (it == md->end()) {
        why_ = "no auth token";
      } else if (!AuthEquals(std::string(it->second.data(), it->second.size()), *expected_)) {
        why_ = "wrong auth token";
      }
      if (!why_.empty()) {
        std::cerr << "polyray: refused " << info_->method() << " from " << info_->server_context()->peer() << ": "
                  << why_ << std::endl;
      }
    }
    if (!why_.empty() && methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      auto* buf = static_cast<grpc::ByteBuffer*>(methods->GetRecvMessage());
      if (buf != nullptr) {
        static const char kNever[] = "\xff";  // a varint cut short: no message decodes from it
        grpc::Slice s(kNever, 1);
        *buf = grpc::ByteBuffer(&s, 1);
      }
    }
    if (!why_.empty() && methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      methods->ModifySendStatus(
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "polyray: " + why_ + " (see docs/security.md)"));
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  const std::string* expected_;
  std::string why_;
};

class ServerAuthFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ServerAuthFactory(std::string expected) : expected_(std::move(expected)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new ServerAuth(info, &expected_);
  }

 private:
  std::string expected_;
};

}  // namespace

std::optional<std::string> ResolveAuthToken(const std::map<std::string, std::string>& env, const std::string& home) {
  std::string raw = Get(env, "POLYRAY_AUTH_MODE");
  std::string mode = Trim(raw);
  std::transform(mode.begin(), mode.end(), mode.begin(), [](unsigned char c) { return std::tolower(c); });
  if (mode == "disabled") return std::nullopt;
  if (!mode.empty() && mode != "token") {
    throw polyray::Error("POLYRAY_AUTH_MODE='" + raw + "': expected 'token' or 'disabled'");
  }
  std::string token = Trim(Get(env, "POLYRAY_AUTH_TOKEN"));
  if (!token.empty()) return token;
  std::string path = Trim(Get(env, "POLYRAY_AUTH_TOKEN_PATH"));
  if (!path.empty()) return ReadTokenFile(path);
  std::string def = home + "/.polyray/auth_token";
  struct stat st {};
  if (::stat(def.c_str(), &st) != 0) {
    throw polyray::Error(
        "no polyray auth token: set POLYRAY_AUTH_TOKEN or POLYRAY_AUTH_TOKEN_PATH, or start a head on this machine "
        "(it writes " +
        def + "); POLYRAY_AUTH_MODE=disabled turns authentication off");
  }
  return ReadTokenFile(def);
}

const std::optional<std::string>& AuthToken() {
  static std::once_flag once;
  static std::optional<std::string> token;
  std::call_once(once, [] {
    const char* home = std::getenv("HOME");
    token = ResolveAuthToken(Environment(), home != nullptr ? home : "");
    if (!token) std::cerr << "polyray: POLYRAY_AUTH_MODE=disabled: every polyray port accepts anyone who can reach it\n";
  });
  return token;
}

bool TlsEnabled() {
  const char* v = std::getenv("POLYRAY_USE_TLS");
  std::string s = Trim(v != nullptr ? v : "");
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s == "1" || s == "true" || s == "yes" || s == "on";
}

namespace {
std::string TlsFile(const char* var) {
  const char* v = std::getenv(var);
  std::string path = Trim(v != nullptr ? v : "");
  if (path.empty()) {
    throw polyray::Error(std::string("POLYRAY_USE_TLS is set but ") + var +
                         " is not (polyray tls generate DIR makes a set)");
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    int err = errno;
    throw polyray::Error(std::string("cannot read ") + var + " " + path + ": " + std::strerror(err));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

std::shared_ptr<grpc::ChannelCredentials> AuthChannelCredentials() {
  if (!TlsEnabled()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = TlsFile("POLYRAY_TLS_CA_CERT");
  o.pem_cert_chain = TlsFile("POLYRAY_TLS_SERVER_CERT");
  o.pem_private_key = TlsFile("POLYRAY_TLS_SERVER_KEY");
  return grpc::SslCredentials(o);
}

std::shared_ptr<grpc::ServerCredentials> AuthServerCredentials() {
  if (!TlsEnabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions o(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  o.pem_root_certs = TlsFile("POLYRAY_TLS_CA_CERT");
  o.pem_key_cert_pairs.push_back({TlsFile("POLYRAY_TLS_SERVER_KEY"), TlsFile("POLYRAY_TLS_SERVER_CERT")});
  return grpc::SslServerCredentials(o);
}

std::shared_ptr<grpc::Channel> AuthChannel(const std::string& target, const grpc::ChannelArguments& args) {
  const auto& token = AuthToken();
  if (!token) return grpc::CreateCustomChannel(target, AuthChannelCredentials(), args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> f;
  f.push_back(std::make_unique<ClientAuthFactory>(kBearer + *token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, AuthChannelCredentials(), args,
                                                                 std::move(f));
}

bool AuthEquals(const std::string& presented, const std::string& expected) {
  // Constant time in the expected length: every byte is compared.
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    unsigned char p = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    diff |= p ^ static_cast<unsigned char>(expected[i]);
  }
  return diff == 0 && !presented.empty();
}

std::string PushHelloFrame() {
  g_hello_sent.fetch_add(1, std::memory_order_relaxed);
  rpc::PushHello hello;
  const auto& token = AuthToken();
  if (token) hello.set_auth_token(*token);
  std::string out;
  AppendPushFrame(hello, out);
  return out;
}

bool PushHelloOk(const char* body, size_t n) {
  g_hello_checked.fetch_add(1, std::memory_order_relaxed);
  const auto& token = AuthToken();
  if (!token) return true;
  rpc::PushHello hello;
  if (!hello.ParseFromArray(body, static_cast<int>(n))) return false;
  return AuthEquals(hello.auth_token(), *token);
}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> AuthServerInterceptors() {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
  const auto& token = AuthToken();
  if (token) f.push_back(std::make_unique<ServerAuthFactory>(kBearer + *token));
  return f;
}

}  // namespace polyray::core

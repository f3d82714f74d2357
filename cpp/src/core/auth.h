// The cluster token (docs/security.md), resolved as python/polyray/protocol/auth.py
// does: POLYRAY_AUTH_MODE (token, the default, or disabled); the token from
// POLYRAY_AUTH_TOKEN, else the file POLYRAY_AUTH_TOKEN_PATH names (an
// unreadable or empty file is an error naming it), else ~/.polyray/auth_token.
// Every channel the runtime builds sends it as `authorization: Bearer <token>`
// (AuthChannel); every server checks it (AuthServerInterceptors); each push
// connection starts with a PushHello frame carrying it.
#ifndef POLYRAY_CORE_AUTH_H_
#define POLYRAY_CORE_AUTH_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/server_interceptor.h>

namespace polyray::core {

/// The token resolved from `env` (variable -> value) and `home`; nullopt
/// when POLYRAY_AUTH_MODE=disabled. Throws polyray::Error (the same texts as
/// Python's AuthError) when none is found or a named file is unusable.
std::optional<std::string> ResolveAuthToken(const std::map<std::string, std::string>& env, const std::string& home);

/// This process's token (resolved once from the environment), or nullopt when disabled.
const std::optional<std::string>& AuthToken();

/// Whether POLYRAY_USE_TLS asks for (mutual) TLS: 1, true, yes or on.
bool TlsEnabled();

/// The credentials of every channel: mutual TLS (POLYRAY_TLS_CA_CERT,
/// POLYRAY_TLS_SERVER_CERT, POLYRAY_TLS_SERVER_KEY) when TLS is on, else insecure.
std::shared_ptr<grpc::ChannelCredentials> AuthChannelCredentials();

/// The credentials of every server: mutual TLS (clients must present a
/// certificate the CA signed) when TLS is on, else insecure.
std::shared_ptr<grpc::ServerCredentials> AuthServerCredentials();

/// A channel to `target` whose every call carries the token.
std::shared_ptr<grpc::Channel> AuthChannel(const std::string& target, const grpc::ChannelArguments& args);

/// Constant-time comparison of a presented value with the expected one.
bool AuthEquals(const std::string& presented, const std::string& expected);

/// The first frame of a push connection (header and PushHello).
std::string PushHelloFrame();

/// Whether a push connection's first frame body carries this process's token
/// (always true when disabled).
bool PushHelloOk(const char* body, size_t n);

/// The interceptor factories every server the runtime builds is given: a call
/// without the token is cancelled and logged before its handler sees it.
std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> AuthServerInterceptors();

}  // namespace polyray::core

#endif  // POLYRAY_CORE_AUTH_H_

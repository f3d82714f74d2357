// What C++'s auth adds per gRPC call and per push connection, timed in process (issue 15).
//
//   c++ -O2 -std=gnu++17 -Icpp/src -Ibuild/cpp/gen -Ibridge/include -Icpp/include \
//       benchmarks/auth_parts/auth_check_bench.cc -o /tmp/auth_check_bench \
//       -Wl,-rpath,$PWD/build/cpp/lib build/cpp/lib/libpolyray.so -lgrpc++ -lgrpc -lgpr -lprotobuf -pthread
//   POLYRAY_AUTH_TOKEN=$(printf 'ab%.0s' {1..32}) /tmp/auth_check_bench
//
// The server check is the real interceptor (AuthServerInterceptors()) driven through its
// POST_RECV_INITIAL_METADATA hook by a fake InterceptorBatchMethods holding the metadata
// grpc would hand it; "without" is the same fake with no interceptor (Proceed only). The
// client side is what ClientAuth does: one insert into the send metadata. And one PushHello
// made (PushHelloFrame) and checked (PushHelloOk). Min and median of the repeats, ns per op.
#include <grpcpp/support/interceptor.h>
#include <grpcpp/support/server_interceptor.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "core/auth.h"
#include "core/push_frame.h"

using grpc::experimental::InterceptionHookPoints;

class FakeBatch : public grpc::experimental::InterceptorBatchMethods {
 public:
  std::multimap<grpc::string_ref, grpc::string_ref> recv_md;
  int proceeded = 0;
  bool QueryInterceptionHookPoint(InterceptionHookPoints type) override {
    return type == InterceptionHookPoints::POST_RECV_INITIAL_METADATA;
  }
  void Proceed() override { ++proceeded; }
  void Hijack() override {}
  grpc::ByteBuffer* GetSerializedSendMessage() override { return nullptr; }
  bool GetSendMessageStatus() override { return true; }
  const void* GetSendMessage() override { return nullptr; }
  void ModifySendMessage(const void*) override {}
  std::multimap<std::string, std::string>* GetSendInitialMetadata() override { return nullptr; }
  grpc::Status GetSendStatus() override { return grpc::Status(); }
  void ModifySendStatus(const grpc::Status&) override { std::abort(); }
  std::multimap<std::string, std::string>* GetSendTrailingMetadata() override { return nullptr; }
  void* GetRecvMessage() override { return nullptr; }
  std::multimap<grpc::string_ref, grpc::string_ref>* GetRecvInitialMetadata() override { return &recv_md; }
  grpc::Status* GetRecvStatus() override { return nullptr; }
  std::multimap<grpc::string_ref, grpc::string_ref>* GetRecvTrailingMetadata() override { return nullptr; }
  std::unique_ptr<grpc::ChannelInterface> GetInterceptedChannel() override { return nullptr; }
  void FailHijackedRecvMessage() override {}
  void FailHijackedSendMessage() override {}
};

static volatile long sink;

template <class F>
std::vector<double> Time(F f, int n, int repeats) {
  for (int i = 0; i < n; ++i) f();
  std::vector<double> r;
  for (int k = 0; k < repeats; ++k) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) f();
    r.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / n);
  }
  std::sort(r.begin(), r.end());
  return r;
}

static double Print(const char* name, const std::vector<double>& r) {
  std::printf("%-22s min %8.1f ns  median %8.1f ns\n", name, r.front(), r[r.size() / 2]);
  return r[r.size() / 2];
}

int main(int argc, char** argv) {
  int repeats = argc > 1 ? std::atoi(argv[1]) : 15;
  const int n = 200000;
  const auto& token = polyray::core::AuthToken();
  if (!token) {
    std::fprintf(stderr, "set POLYRAY_AUTH_TOKEN\n");
    return 2;
  }
  auto factories = polyray::core::AuthServerInterceptors();
  std::string bearer = "Bearer " + *token;
  std::string ua_key = "user-agent", ua = "grpc-c++/1.51.1 grpc-c/29.0.0 (linux; chttp2)", key = "authorization";
  FakeBatch batch;
  batch.recv_md.emplace(grpc::string_ref(ua_key), grpc::string_ref(ua));
  batch.recv_md.emplace(grpc::string_ref(key), grpc::string_ref(bearer));
  auto with = Time([&] {
    // A call's interceptor is made per call by the factory, as grpc does.
    std::unique_ptr<grpc::experimental::Interceptor> i(factories[0]->CreateServerInterceptor(nullptr));
    i->Intercept(&batch);
  }, n, repeats);
  auto without = Time([&] { batch.Proceed(); }, n, repeats);
  double s = Print("server check", with) - Print("server without", without);
  std::multimap<std::string, std::string> send_md;
  auto client = Time([&] {
    send_md.clear();
    send_md.insert({key, bearer});
    sink = sink + static_cast<long>(send_md.size());
  }, n, repeats);
  auto client0 = Time([&] {
    send_md.clear();
    sink = sink + static_cast<long>(send_md.size());
  }, n, repeats);
  double c = Print("client metadata", client) - Print("client without", client0);
  std::string frame = polyray::core::PushHelloFrame();
  if (!polyray::core::PushHelloOk(frame.data() + polyray::core::kPushFrameHeader, frame.size() - polyray::core::kPushFrameHeader)) {
    std::fprintf(stderr, "hello refused\n");
    return 1;
  }
  Print("hello make", Time([&] { sink = sink + static_cast<long>(polyray::core::PushHelloFrame().size()); }, n, repeats));
  Print("hello check", Time([&] { sink = sink + polyray::core::PushHelloOk(frame.data() + polyray::core::kPushFrameHeader, frame.size() - polyray::core::kPushFrameHeader); }, n, repeats));
  std::printf("added per call: server %.1f ns, client %.1f ns (medians)\n", s, c);
  return 0;
}

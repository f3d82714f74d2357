// The C++ worker's push port (src/core/push_port.h), spoken by hand over a
// real socket. This test binary is also the worker: with
// POLYRAY_PUSH_PORT_TEST_WORKER=1 it runs internal::RunWorker with the small
// executor below. Each test starts one such worker against a fake raylet
// that only answers RegisterWorker, connects to the push port the worker
// registered, and writes and reads frames (4-byte little-endian length, then
// a PushTasksRequest / PushTasksReply).
//
// Invariants: every test has its own store segment, fake raylet and worker;
// the worker is ended with an Exit call on its gRPC port and must exit with
// code 0 (else it is killed and the test fails); the segment and the
// worker's stderr file are removed in TearDown. Socket reads have a timeout,
// so a worker that stops answering fails the test instead of hanging it.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "codec/envelope.h"
#include "core/auth.h"
#include "core/ids.h"
#include "core/push_port.h"
#include "polyray/codec.h"
#include "polyray/internal/runtime.h"
#include "polyray/protocol/core_worker.grpc.pb.h"
#include "polyray/protocol/raylet.grpc.pb.h"
#include "polyray/store.h"
#include "socket_bytes.h"

extern char** environ;

namespace polyray::core {
namespace {

using socket_bytes::LittleEndian32;
using socket_bytes::SendAll;

using internal::Decode;
using internal::Encode;
using internal::TaskInvocation;
using internal::TaskOutcome;

// ------------------------------------------------------------------ worker side

TaskOutcome Ok(internal::Encoded e) {
  TaskOutcome out;
  out.returns.push_back(std::move(e));
  return out;
}

TaskOutcome TestExecutor(const TaskInvocation& inv) {
  try {
    const std::string& f = inv.function_name;
    if (f == "Add") return Ok(Encode(Decode<int64_t>(inv.args.at(0), "a") + Decode<int64_t>(inv.args.at(1), "b")));
    if (f == "Sleep") {  // sleeps `ms` and returns it
      int64_t ms = Decode<int64_t>(inv.args.at(0), "ms");
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return Ok(Encode(ms));
    }
    if (f == "Len") return Ok(Encode(static_cast<int64_t>(Decode<std::vector<uint8_t>>(inv.args.at(0), "b").size())));
    throw std::invalid_argument("unknown function " + f);
  } catch (const std::exception& e) {
    TaskOutcome out;
    out.error_record = internal::MakeCppErrorRecord("std::invalid_argument", e.what(), "", "");
    return out;
  }
}

const int kWorkerMode = [] {
  const char* flag = std::getenv("POLYRAY_PUSH_PORT_TEST_WORKER");
  if (flag && *flag == '1' && std::getenv("POLYRAY_WORKER_ID")) {
    int code = internal::RunWorker(TestExecutor);
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(code);
  }
  return 0;
}();

// ------------------------------------------------------------------ the fake raylet

/// Answers RegisterWorker with this node's identity and remembers the request.
class FakeRaylet final : public rpc::RayletService::Service {
 public:
  FakeRaylet(std::string node_id, std::string store_name)
      : node_id_(std::move(node_id)), store_name_(std::move(store_name)) {}

  grpc::Status RegisterWorker(grpc::ServerContext* /*ctx*/, const rpc::RegisterWorkerRequest* request,
                              rpc::RegisterWorkerReply* reply) override {
    reply->set_node_id(node_id_);
    reply->set_store_name(store_name_);
    std::lock_guard<std::mutex> lock(mu_);
    registration_ = *request;
    cv_.notify_all();
    return grpc::Status::OK;
  }

  /// The worker's registration, or nullopt when none came in time.
  std::optional<rpc::RegisterWorkerRequest> WaitForRegistration(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return registration_.has_value(); });
    return registration_;
  }

 private:
  const std::string node_id_;
  const std::string store_name_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<rpc::RegisterWorkerRequest> registration_;
};

// ------------------------------------------------------------------ frames by hand

const std::string kJob("\x01\x00\x00\x00", 4);

std::string Frame(const rpc::PushTasksRequest& request) {
  std::string body = request.SerializeAsString();
  return LittleEndian32(static_cast<uint32_t>(body.size())) + body;
}

rpc::TaskSpec Task(const std::string& function, const std::vector<internal::Encoded>& args) {
  rpc::TaskSpec s;
  s.set_type(rpc::NORMAL_TASK);
  s.set_language(rpc::CPP);
  s.mutable_function()->mutable_cpp()->set_function_name(function);
  s.set_job_id(kJob);
  s.set_task_id(NewTaskId(kJob));
  s.mutable_caller()->set_host("127.0.0.1");
  s.mutable_caller()->set_worker_id(std::string(kWorkerIdSize, 'c'));
  s.set_caller_language(rpc::CPP);
  s.set_num_returns(1);
  s.set_name(function);
  for (const internal::Encoded& a : args) internal::ToEnvelope(a, s.add_args()->mutable_value());
  return s;
}

rpc::TaskSpec AddTask(int64_t a, int64_t b) { return Task("Add", {Encode(a), Encode(b)}); }

int64_t ValueOf(const rpc::TaskResult& result) {
  EXPECT_EQ(result.returns_size(), 1);
  if (result.returns_size() != 1) return -1;
  internal::ValueView v = internal::ViewOfEnvelope(std::make_shared<rpc::Envelope>(result.returns(0).value()));
  EXPECT_EQ(v.format, Format::kXlang);
  if (v.format != Format::kXlang) return -1;
  return Decode<int64_t>(v, "result");
}

/// What reading from a connection gave.
enum class Read { kFrame, kEof, kReset, kTimeout };

/// Reads `n` bytes; kEof when the peer closed before the first byte.
Read ReadExact(int fd, char* dst, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = ::recv(fd, dst + got, n - got, 0);
    if (k == 0) return got == 0 ? Read::kEof : Read::kReset;  // a frame cut short counts as broken
    if (k < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? Read::kTimeout : Read::kReset;
    }
    got += static_cast<size_t>(k);
  }
  return Read::kFrame;
}

/// The next frame of `fd` as a PushTasksReply (fails the test on a bad one).
Read ReadReply(int fd, rpc::PushTasksReply* reply) {
  char header[4];
  Read r = ReadExact(fd, header, 4);
  if (r != Read::kFrame) return r;
  uint32_t n = 0;
  for (int i = 3; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(header[i]);
  std::string body(n, '\0');
  r = ReadExact(fd, body.data(), n);
  if (r != Read::kFrame) return r == Read::kEof ? Read::kReset : r;
  EXPECT_TRUE(reply->ParseFromString(body)) << "a frame of " << n << " bytes is not a PushTasksReply";
  return Read::kFrame;
}

/// A connection to 127.0.0.1:port whose reads time out after 30 s.
int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << std::strerror(errno);
  timeval tv{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  // The cluster token first (PushHello, docs/security.md): what a test sends next reaches the frame reader.
  std::string hello = PushHelloFrame();
  EXPECT_EQ(::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL), static_cast<ssize_t>(hello.size()));
  return fd;
}

/// Whether the worker closed `fd` (EOF or reset) within the read timeout,
/// with nothing more sent before.
::testing::AssertionResult ClosedByWorker(int fd) {
  char byte;
  ssize_t k = ::recv(fd, &byte, 1, 0);
  if (k == 0) return ::testing::AssertionSuccess();
  if (k < 0 && errno == ECONNRESET) return ::testing::AssertionSuccess();
  if (k > 0) return ::testing::AssertionFailure() << "the worker sent more bytes";
  return ::testing::AssertionFailure() << "the connection is still open: " << std::strerror(errno);
}

// ------------------------------------------------------------------ the fixture

class PushPortTest : public ::testing::Test {
 protected:
  void SetUp() override {
    (void)kWorkerMode;
    const std::string tag = std::to_string(getpid());
    store_name_ = "/polyray-cpptest-pushport-" + tag;
    store_.emplace(polyray::Store::Create(store_name_, 16 << 20));
    stderr_path_ = "/tmp/polyray-pushport-test-" + tag + ".stderr";
    node_id_ = RandomBytes(kWorkerIdSize);
    raylet_ = std::make_unique<FakeRaylet>(node_id_, store_name_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(raylet_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ && port > 0);
    raylet_address_ = "127.0.0.1:" + std::to_string(port);
  }

  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    store_.reset();
    polyray::Store::Unlink(store_name_);
    if (HasFailure()) std::fprintf(stderr, "---- the worker's stderr:\n%s----\n", WorkerStderr().c_str());
    std::remove(stderr_path_.c_str());
  }

  /// Starts the worker (this binary) and waits for its registration;
  /// `extra_env` ("NAME=value") replaces what this process has of those names.
  void StartWorker(bool push_port = true, const std::vector<std::string>& extra_env = {}) {
    ASSERT_NO_FATAL_FAILURE(SpawnWorker(push_port, extra_env));
    std::optional<rpc::RegisterWorkerRequest> r = raylet_->WaitForRegistration(std::chrono::seconds(30));
    ASSERT_TRUE(r.has_value()) << "the worker did not register";
    registration_ = *r;
    ASSERT_GT(registration_.port(), 0);
  }

  /// Starts the worker (this binary), its stderr to stderr_path_.
  void SpawnWorker(bool push_port, const std::vector<std::string>& extra_env) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string entry(*e);
      bool replaced = false;
      for (const std::string& x : extra_env) {
        replaced = replaced || entry.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0;
      }
      if (!replaced) env.push_back(entry);
    }
    for (const std::string& x : extra_env) env.push_back(x);
    env.push_back("POLYRAY_PUSH_PORT_TEST_WORKER=1");
    env.push_back("POLYRAY_RAYLET_ADDRESS=" + raylet_address_);
    env.push_back("POLYRAY_NODE_ID=" + Hex(node_id_));
    env.push_back("POLYRAY_WORKER_ID=" + Hex(NewWorkerId()));
    env.push_back("POLYRAY_JOB_ID=" + Hex(kJob));
    env.push_back("POLYRAY_STORE_NAME=" + store_name_);
    env.push_back("POLYRAY_NODE_IP=127.0.0.1");
    if (!push_port) env.push_back("POLYRAY_PUSH_PORT=0");
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    ASSERT_GT(n, 0);
    exe[n] = '\0';
    char* argv[] = {exe, nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = posix_spawn(&pid_, exe, &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(rc, 0) << std::strerror(rc);
  }

  /// The worker's exit status once it ended by itself (within 20 s).
  int WaitForExit() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ADD_FAILURE() << "the worker did not exit";
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    return status;
  }

  /// A worker with POLYRAY_SPIN_US=`spin` serves sync calls, before and
  /// after it idled longer than the spin, and ends promptly on Exit.
  void SyncCallsServedWithSpin(const std::string& spin) {
    ASSERT_NO_FATAL_FAILURE(StartWorker(true, {"POLYRAY_SPIN_US=" + spin}));
    int fd = Connect(registration_.push_port());
    ASSERT_NO_FATAL_FAILURE(ExpectSyncAddsServed(fd, 50));
    // Idle longer than the default spin: the threads sleep, and still wake.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_NO_FATAL_FAILURE(ExpectSyncAddsServed(fd, 5));
    auto start = std::chrono::steady_clock::now();
    ExitWorker();  // with the connection open: its reader may be spinning
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << "a slow exit";
    ::close(fd);
  }

  /// `n` Adds over one connection, each sent only after the previous result
  /// came (the sync path, where the worker's threads spin between calls).
  void ExpectSyncAddsServed(int fd, int n) {
    for (int i = 0; i < n; ++i) {
      rpc::PushTasksRequest request;
      *request.add_tasks() = AddTask(i, 1);
      ASSERT_TRUE(SendAll(fd, Frame(request)));
      rpc::PushTasksReply reply;
      ASSERT_EQ(ReadReply(fd, &reply), Read::kFrame) << "call " << i;
      ASSERT_EQ(reply.results_size(), 1);
      EXPECT_EQ(reply.results(0).task_id(), request.tasks(0).task_id());
      EXPECT_EQ(ValueOf(reply.results(0)), i + 1);
    }
  }

  /// Ends the worker with an Exit call and expects exit code 0.
  void ExitWorker() {
    auto stub = rpc::CoreWorkerService::NewStub(
        AuthChannel("127.0.0.1:" + std::to_string(registration_.port()), grpc::ChannelArguments()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    rpc::ExitRequest request;
    rpc::ExitReply reply;
    grpc::Status st = stub->Exit(&ctx, request, &reply);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_TRUE(reply.accepted());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int status = 0;
    while (true) {
      pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) break;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the worker did not exit";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }

  std::string WorkerStderr() const {
    std::ifstream in(stderr_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  /// Waits until the worker's stderr holds `text`.
  ::testing::AssertionResult WorkerSaid(const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (WorkerStderr().find(text) != std::string::npos) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return ::testing::AssertionFailure() << "the worker's stderr does not say \"" << text << "\"";
  }

  /// One Add over a fresh connection, then half-close: the result, then EOF.
  void ExpectOneAddServed(int64_t a, int64_t b) {
    int fd = Connect(registration_.push_port());
    rpc::PushTasksRequest request;
    *request.add_tasks() = AddTask(a, b);
    ASSERT_TRUE(SendAll(fd, Frame(request)));
    ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);
    rpc::PushTasksReply reply;
    ASSERT_EQ(ReadReply(fd, &reply), Read::kFrame);
    ASSERT_EQ(reply.results_size(), 1);
    EXPECT_EQ(reply.results(0).task_id(), request.tasks(0).task_id());
    EXPECT_EQ(ValueOf(reply.results(0)), a + b);
    EXPECT_EQ(ReadReply(fd, &reply), Read::kEof);
    ::close(fd);
  }

  std::string store_name_;
  std::optional<polyray::Store> store_;
  std::string stderr_path_;
  std::string node_id_;
  std::unique_ptr<FakeRaylet> raylet_;
  std::unique_ptr<grpc::Server> server_;
  std::string raylet_address_;
  pid_t pid_ = -1;
  rpc::RegisterWorkerRequest registration_;
};

TEST_F(PushPortTest, TheRegistrationCarriesThePushPort) {
  ASSERT_NO_FATAL_FAILURE(StartWorker());
  EXPECT_GT(registration_.push_port(), 0);
  EXPECT_LT(registration_.push_port(), 65536);
  EXPECT_NE(registration_.push_port(), registration_.port());
  EXPECT_EQ(registration_.language(), rpc::CPP);
  ExpectOneAddServed(20, 22);
  ExitWorker();
}

TEST_F(PushPortTest, PushPortZeroTurnsThePortOff) {
  ASSERT_NO_FATAL_FAILURE(StartWorker(/*push_port=*/false));
  EXPECT_EQ(registration_.push_port(), 0);
  ExitWorker();  // the gRPC port still serves
}

TEST_F(PushPortTest, SyncCallsWithTheDefaultSpin) { SyncCallsServedWithSpin(""); }

TEST_F(PushPortTest, SyncCallsWithALongSpin) { SyncCallsServedWithSpin("200000"); }

TEST_F(PushPortTest, SyncCallsWithTheSpinOff) { SyncCallsServedWithSpin("0"); }

TEST_F(PushPortTest, ABadSpinFailsTheStartNamingTheVariable) {
  for (const char* spin : {"fast", "-5"}) {
    SCOPED_TRACE(std::string("POLYRAY_SPIN_US=") + spin);
    ASSERT_NO_FATAL_FAILURE(SpawnWorker(true, {std::string("POLYRAY_SPIN_US=") + spin}));
    int status = WaitForExit();
    ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 2);
    std::string said = WorkerStderr();
    EXPECT_NE(said.find("polyray C++ worker: POLYRAY_SPIN_US"), std::string::npos) << said;
    EXPECT_NE(said.find(spin), std::string::npos) << said;
  }
  EXPECT_FALSE(raylet_->WaitForRegistration(std::chrono::seconds(0)).has_value());
}

TEST_F(PushPortTest, ResultsComeInOrderAndTheWorkerClosesAfterTheLast) {
  ASSERT_NO_FATAL_FAILURE(StartWorker());
  int fd = Connect(registration_.push_port());
  // Two frames of three tasks; the first task is slow, so the caller has
  // half-closed long before the last result is ready.
  rpc::PushTasksRequest first;
  *first.add_tasks() = Task("Sleep", {Encode<int64_t>(300)});
  *first.add_tasks() = AddTask(1, 1);
  *first.add_tasks() = AddTask(2, 2);
  rpc::PushTasksRequest second;
  for (int i = 3; i <= 5; ++i) *second.add_tasks() = AddTask(i, i);
  ASSERT_TRUE(SendAll(fd, Frame(first)));
  ASSERT_TRUE(SendAll(fd, Frame(second)));
  ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);
  std::vector<std::string> sent;
  for (const auto* r : {&first, &second}) {
    for (const rpc::TaskSpec& t : r->tasks()) sent.push_back(t.task_id());
  }
  std::vector<rpc::TaskResult> results;
  int frames = 0;
  while (results.size() < sent.size()) {
    rpc::PushTasksReply reply;
    Read r = ReadReply(fd, &reply);
    ASSERT_EQ(r, Read::kFrame) << "after " << results.size() << " result(s)";
    ASSERT_GT(reply.results_size(), 0) << "an empty frame";
    frames++;
    for (const rpc::TaskResult& result : reply.results()) results.push_back(result);
  }
  EXPECT_GE(frames, 1);
  ASSERT_EQ(results.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(results[i].task_id(), sent[i]) << "result " << i;
  EXPECT_EQ(ValueOf(results[0]), 300);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(ValueOf(results[i]), 2 * i);
  // Every result is out: the worker closes its side.
  rpc::PushTasksReply after;
  EXPECT_EQ(ReadReply(fd, &after), Read::kEof);
  ::close(fd);
  ExitWorker();
}

TEST_F(PushPortTest, FramesSplitAcrossWritesAndLargeFrames) {
  ASSERT_NO_FATAL_FAILURE(StartWorker());
  int fd = Connect(registration_.push_port());
  // A frame written a few bytes at a time.
  rpc::PushTasksRequest small;
  *small.add_tasks() = AddTask(5, 6);
  std::string bytes = Frame(small);
  for (size_t off = 0; off < bytes.size(); off += 7) {
    ASSERT_TRUE(SendAll(fd, bytes.substr(off, 7)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // A frame larger than the worker's read buffer.
  rpc::PushTasksRequest large;
  *large.add_tasks() = Task("Len", {Encode(std::vector<uint8_t>(300'000, 3))});
  ASSERT_GT(large.ByteSizeLong(), 2 * 64 * 1024u);
  ASSERT_TRUE(SendAll(fd, Frame(large)));
  ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);
  std::vector<rpc::TaskResult> results;
  while (results.size() < 2) {
    rpc::PushTasksReply reply;
    ASSERT_EQ(ReadReply(fd, &reply), Read::kFrame);
    for (const rpc::TaskResult& result : reply.results()) results.push_back(result);
  }
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(ValueOf(results[0]), 11);
  EXPECT_EQ(ValueOf(results[1]), 300'000);
  rpc::PushTasksReply after;
  EXPECT_EQ(ReadReply(fd, &after), Read::kEof);
  ::close(fd);
  ExitWorker();
}

TEST_F(PushPortTest, AnOversizedFrameEndsOnlyThatConnection) {
  ASSERT_NO_FATAL_FAILURE(StartWorker());
  int fd = Connect(registration_.push_port());
  ASSERT_TRUE(SendAll(fd, LittleEndian32(PushPort::kMaxFrame + 1)));
  EXPECT_TRUE(ClosedByWorker(fd));
  ::close(fd);
  EXPECT_TRUE(WorkerSaid("dropping a push connection from 127.0.0.1:"));
  EXPECT_TRUE(WorkerSaid("more than the limit of 536870912"));
  ExpectOneAddServed(3, 4);
  ExitWorker();
}

TEST_F(PushPortTest, AnUnparsableFrameEndsOnlyThatConnection) {
  ASSERT_NO_FATAL_FAILURE(StartWorker());
  int fd = Connect(registration_.push_port());
  // Field 1 (tasks), length 127, but only 3 bytes follow: not a message.
  const std::string garbage("\x0a\x7fxyz", 5);
  ASSERT_TRUE(SendAll(fd, LittleEndian32(static_cast<uint32_t>(garbage.size())) + garbage));
  EXPECT_TRUE(ClosedByWorker(fd));
  ::close(fd);
  EXPECT_TRUE(WorkerSaid("bad frame: its 5 bytes are not a PushTasksRequest"));
  ExpectOneAddServed(8, 9);
  ExitWorker();
}

TEST_F(PushPortTest, ConnectionsAreIndependentAndStopClosesOpenOnes) {
  ASSERT_NO_FATAL_FAILURE(StartWorker());
  // A connection that stays open (the caller never half-closes) ...
  int idle = Connect(registration_.push_port());
  rpc::PushTasksRequest request;
  *request.add_tasks() = AddTask(1, 2);
  ASSERT_TRUE(SendAll(idle, Frame(request)));
  rpc::PushTasksReply reply;
  ASSERT_EQ(ReadReply(idle, &reply), Read::kFrame);
  EXPECT_EQ(ValueOf(reply.results(0)), 3);
  // ... does not keep others from being served, nor the worker from exiting.
  ExpectOneAddServed(10, 20);
  ExitWorker();
  EXPECT_TRUE(ClosedByWorker(idle));
  ::close(idle);
}

}  // namespace
}  // namespace polyray::core

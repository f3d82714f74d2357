// The caller's side of the push port (src/core/push_port_stream.h) against a
// socket server written here: frames both ways, a clean end, every way the
// stream can break (the worker closing with results outstanding or early, a
// reset, a bad frame, a refused connect), Send from several threads, and
// OpenTaskStream's choice between the push port and gRPC (task_stream.h).
//
// Invariants: every test has its own server on an ephemeral port of
// 127.0.0.1; server reads have a timeout, so a stream that stops writing
// fails the test instead of hanging it; every test waits for on_done and
// then checks it ran exactly once, after the last on_reply.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/channels.h"
#include "core/auth.h"
#include "core/push_frame.h"
#include "core/push_port_stream.h"
#include "core/push_stream.h"
#include "core/task_stream.h"
#include "socket_bytes.h"

namespace polyray::core {
namespace {

using socket_bytes::LittleEndian32;
using socket_bytes::SendAll;

using namespace std::chrono_literals;

// ------------------------------------------------------------------ the test server

/// A listening socket on 127.0.0.1 whose connections the test drives by hand.
class Server {
 public:
  Server() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(a);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Server() {
    ::close(listen_fd_);
    for (int fd : accepted_) ::close(fd);
  }

  int port() const { return port_; }

  /// The next connection (-1 when none came within 10 s); reads on it time
  /// out after 10 s.
  int Accept() {
    timeval tv{10, 0};
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      accepted_.push_back(fd);
      // Every connection opens with the caller's PushHello (docs/security.md).
      char header[kPushFrameHeader];
      if (::recv(fd, header, sizeof(header), MSG_WAITALL) == static_cast<ssize_t>(sizeof(header))) {
        std::string body(PushFrameLength(header), '\0');
        EXPECT_EQ(::recv(fd, body.data(), body.size(), MSG_WAITALL), static_cast<ssize_t>(body.size()));
        EXPECT_TRUE(PushHelloOk(body.data(), body.size())) << "the first frame is not the PushHello";
      } else {
        ADD_FAILURE() << "no PushHello on a new connection";
      }
    }
    return fd;
  }

  /// Closes a connection now (the test's "worker closes").
  void Close(int fd) {
    for (auto it = accepted_.begin(); it != accepted_.end(); ++it) {
      if (*it == fd) {
        accepted_.erase(it);
        break;
      }
    }
    ::close(fd);
  }

  /// Resets a connection (RST instead of FIN).
  void Reset(int fd) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    Close(fd);
  }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::vector<int> accepted_;
};

enum class Read { kFrame, kEof, kBroken };

Read ReadExact(int fd, char* dst, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = ::recv(fd, dst + got, n - got, 0);
    if (k == 0) return got == 0 ? Read::kEof : Read::kBroken;
    if (k < 0) {
      if (errno == EINTR) continue;
      return Read::kBroken;  // a timeout too
    }
    got += static_cast<size_t>(k);
  }
  return Read::kFrame;
}

/// The next frame of `fd`, which must be a PushTasksRequest.
Read ReadRequest(int fd, rpc::PushTasksRequest* request) {
  char header[kPushFrameHeader];
  Read r = ReadExact(fd, header, sizeof(header));
  if (r != Read::kFrame) return r;
  std::string body(PushFrameLength(header), '\0');
  if (ReadExact(fd, body.data(), body.size()) != Read::kFrame) return Read::kBroken;
  EXPECT_TRUE(request->ParseFromString(body)) << "a frame that is not a PushTasksRequest";
  return Read::kFrame;
}

/// Writes one reply frame with a result for each task id.
bool Reply(int fd, const std::vector<std::string>& task_ids) {
  rpc::PushTasksReply reply;
  for (const std::string& id : task_ids) reply.add_results()->set_task_id(id);
  std::string frame;
  AppendPushFrame(reply, frame);
  return SendAll(fd, frame);
}

std::vector<std::string> IdsOf(const rpc::PushTasksRequest& request) {
  std::vector<std::string> ids;
  for (const rpc::TaskSpec& s : request.tasks()) ids.push_back(s.task_id());
  return ids;
}

rpc::TaskSpec Spec(const std::string& id, size_t payload = 0) {
  rpc::TaskSpec s;
  s.set_task_id(id);
  s.set_name(std::string(payload, 'x'));
  return s;
}

// ------------------------------------------------------------------ the caller's callbacks

/// Records what a stream's callbacks saw.
struct Recorder {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> result_ids;  // in arrival order
  int reply_frames = 0;
  int done_calls = 0;
  bool reply_after_done = false;
  grpc::Status status;

  static std::shared_ptr<Recorder> Make() { return std::make_shared<Recorder>(); }

  TaskStream::ReplyCallback OnReply(const std::shared_ptr<Recorder>& self) {
    return [self](rpc::PushTasksReply& reply) {
      std::lock_guard<std::mutex> lock(self->mu);
      if (self->done_calls > 0) self->reply_after_done = true;
      self->reply_frames++;
      for (const rpc::TaskResult& r : reply.results()) self->result_ids.push_back(r.task_id());
      self->cv.notify_all();
    };
  }
  TaskStream::DoneCallback OnDone(const std::shared_ptr<Recorder>& self) {
    return [self](const grpc::Status& st) {
      std::lock_guard<std::mutex> lock(self->mu);
      self->done_calls++;
      self->status = st;
      self->cv.notify_all();
    };
  }

  bool WaitResults(size_t n, std::chrono::seconds timeout = 10s) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, [&] { return result_ids.size() >= n; });
  }
  /// Waits for on_done, then checks it ran once and last; its status.
  grpc::Status WaitDone(std::chrono::seconds timeout = 20s) {
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, timeout, [&] { return done_calls > 0; })) << "on_done did not run";
    lock.unlock();
    std::this_thread::sleep_for(50ms);  // a second call would come meanwhile
    lock.lock();
    EXPECT_EQ(done_calls, 1);
    EXPECT_FALSE(reply_after_done);
    return status;
  }
};

std::shared_ptr<PushPortStream> OpenOn(const Server& server, const std::shared_ptr<Recorder>& rec) {
  return PushPortStream::Open("127.0.0.1", server.port(), rec->OnReply(rec), rec->OnDone(rec));
}

void ExpectUnavailable(const grpc::Status& st, const std::string& where, const std::string& what) {
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_NE(st.error_message().find(where), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find(what), std::string::npos) << st.error_message();
}

// ------------------------------------------------------------------ clean streams

TEST(PushPortStream, FramesBothWaysThenACleanEnd) {
  Server server;
  auto rec = Recorder::Make();
  auto stream = OpenOn(server, rec);
  int fd = server.Accept();
  ASSERT_GE(fd, 0);

  stream->Send({Spec("a")});
  rpc::PushTasksRequest req;
  ASSERT_EQ(ReadRequest(fd, &req), Read::kFrame);
  EXPECT_EQ(IdsOf(req), std::vector<std::string>{"a"});
  ASSERT_TRUE(Reply(fd, {"a"}));
  ASSERT_TRUE(rec->WaitResults(1));

  stream->Send({Spec("b"), Spec("c")});
  ASSERT_EQ(ReadRequest(fd, &req), Read::kFrame);
  EXPECT_EQ(IdsOf(req), (std::vector<std::string>{"b", "c"}));
  ASSERT_TRUE(Reply(fd, {"c"}));  // out of order, one frame each
  ASSERT_TRUE(Reply(fd, {"b"}));
  ASSERT_TRUE(rec->WaitResults(3));

  stream->Close();
  EXPECT_EQ(ReadRequest(fd, &req), Read::kEof);  // the half-close
  server.Close(fd);
  grpc::Status st = rec->WaitDone();
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(rec->result_ids, (std::vector<std::string>{"a", "c", "b"}));
  EXPECT_EQ(rec->reply_frames, 3);
}

TEST(PushPortStream, SpecsSentRightAwayLeaveInOrderAndResultsAfterTheHalfCloseStillCome) {
  Server server;
  auto rec = Recorder::Make();
  {
    // Sent (and closed) before the connection is likely up; the stream
    // outlives its owner's reference.
    auto stream = OpenOn(server, rec);
    for (int i = 0; i < 5; ++i) stream->Send({Spec("t" + std::to_string(i))});
    stream->Close();
  }
  int fd = server.Accept();
  ASSERT_GE(fd, 0);
  std::vector<std::string> got;
  rpc::PushTasksRequest req;
  Read r;
  while ((r = ReadRequest(fd, &req)) == Read::kFrame) {
    for (const std::string& id : IdsOf(req)) got.push_back(id);
  }
  EXPECT_EQ(r, Read::kEof);
  EXPECT_EQ(got, (std::vector<std::string>{"t0", "t1", "t2", "t3", "t4"}));
  ASSERT_TRUE(Reply(fd, {"t0", "t1", "t2"}));  // results owed after the half-close
  ASSERT_TRUE(Reply(fd, {"t3", "t4"}));
  server.Close(fd);
  grpc::Status st = rec->WaitDone();
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(rec->result_ids.size(), 5u);
}

TEST(PushPortStream, LargeReplyFramesArriveWhole) {
  Server server;
  auto rec = Recorder::Make();
  auto stream = OpenOn(server, rec);
  int fd = server.Accept();
  ASSERT_GE(fd, 0);
  stream->Send({Spec("a"), Spec("b")});
  rpc::PushTasksRequest req;
  ASSERT_EQ(ReadRequest(fd, &req), Read::kFrame);
  // Two replies of 3 MB (larger than the caller's read buffer), written
  // together.
  std::string frames;
  for (const char* id : {"a", "b"}) {
    rpc::PushTasksReply reply;
    rpc::TaskResult* r = reply.add_results();
    r->set_task_id(id);
    r->add_returns()->set_object_id(std::string(3 << 20, *id));
    AppendPushFrame(reply, frames);
  }
  ASSERT_TRUE(SendAll(fd, frames));
  ASSERT_TRUE(rec->WaitResults(2));
  stream->Close();
  EXPECT_EQ(ReadRequest(fd, &req), Read::kEof);
  server.Close(fd);
  grpc::Status st = rec->WaitDone();
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(rec->result_ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(rec->reply_frames, 2);
}

TEST(PushPortStream, SendsFromSeveralThreadsNeverInterleave) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 300;
  constexpr size_t kPayload = 20 * 1024;  // 24 MB in all: the socket fills, writes are left to the I/O thread
  Server server;
  auto rec = Recorder::Make();
  auto stream = OpenOn(server, rec);
  int fd = server.Accept();
  ASSERT_GE(fd, 0);

  std::vector<std::thread> senders;
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&stream, t] {
      for (int i = 0; i < kPerThread; ++i) {
        stream->Send({Spec(std::to_string(t) + ":" + std::to_string(i), kPayload)});
      }
    });
  }
  std::this_thread::sleep_for(300ms);  // nobody reads meanwhile
  std::map<int, int> next;             // per sender: the index expected next
  int frames = 0;
  int tasks = 0;
  bool in_order = true;
  rpc::PushTasksRequest req;
  std::thread closer([&] {
    for (auto& s : senders) s.join();
    stream->Close();
  });
  Read r;
  while ((r = ReadRequest(fd, &req)) == Read::kFrame) {
    frames++;
    for (const rpc::TaskSpec& s : req.tasks()) {
      EXPECT_EQ(s.name().size(), kPayload);
      size_t colon = s.task_id().find(':');
      int t = std::stoi(s.task_id().substr(0, colon));
      int i = std::stoi(s.task_id().substr(colon + 1));
      in_order = in_order && i == next[t];
      next[t] = i + 1;
      tasks++;
    }
    ASSERT_TRUE(Reply(fd, IdsOf(req)));
  }
  closer.join();
  EXPECT_EQ(r, Read::kEof);
  EXPECT_TRUE(in_order) << "a sender's specs left out of order";
  EXPECT_EQ(tasks, kThreads * kPerThread);
  EXPECT_LT(frames, tasks) << "specs queued during a write should share a frame";
  server.Close(fd);
  grpc::Status st = rec->WaitDone(60s);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(rec->result_ids.size(), static_cast<size_t>(kThreads * kPerThread));
}

// ------------------------------------------------------------------ broken streams

TEST(PushPortStream, WorkerClosingWithResultsOutstandingIsUnavailable) {
  Server server;
  auto rec = Recorder::Make();
  auto stream = OpenOn(server, rec);
  int fd = server.Accept();
  ASSERT_GE(fd, 0);
  stream->Send({Spec("a"), Spec("b")});
  rpc::PushTasksRequest req;
  ASSERT_EQ(ReadRequest(fd, &req), Read::kFrame);
  ASSERT_TRUE(Reply(fd, {"a"}));
  ASSERT_TRUE(rec->WaitResults(1));
  stream->Close();
  EXPECT_EQ(ReadRequest(fd, &req), Read::kEof);
  server.Close(fd);  // "b" never answered
  ExpectUnavailable(rec->WaitDone(), "127.0.0.1:" + std::to_string(server.port()), "1 result(s) outstanding");
  EXPECT_EQ(rec->result_ids, std::vector<std::string>{"a"});
}

TEST(PushPortStream, WorkerClosingBeforeTheHalfCloseIsUnavailable) {
  Server server;
  auto rec = Recorder::Make();
  auto stream = OpenOn(server, rec);
  int fd = server.Accept();
  ASSERT_GE(fd, 0);
  stream->Send({Spec("a")});
  rpc::PushTasksRequest req;
  ASSERT_EQ(ReadRequest(fd, &req), Read::kFrame);
  ASSERT_TRUE(Reply(fd, {"a"}));  // nothing outstanding, but the caller is not done
  ASSERT_TRUE(rec->WaitResults(1));
  server.Close(fd);
  ExpectUnavailable(rec->WaitDone(), "127.0.0.1:" + std::to_string(server.port()), "before the caller was done");
  stream->Send({Spec("late")});  // dropped: the owner fails what it has in flight
  stream->Close();
}

TEST(PushPortStream, ResetIsUnavailable) {
  Server server;
  auto rec = Recorder::Make();
  auto stream = OpenOn(server, rec);
  int fd = server.Accept();
  ASSERT_GE(fd, 0);
  stream->Send({Spec("a")});
  rpc::PushTasksRequest req;
  ASSERT_EQ(ReadRequest(fd, &req), Read::kFrame);
  server.Reset(fd);
  ExpectUnavailable(rec->WaitDone(), "127.0.0.1:" + std::to_string(server.port()), "broke");
}

TEST(PushPortStream, OversizedFrameIsUnavailable) {
  Server server;
  auto rec = Recorder::Make();
  auto stream = OpenOn(server, rec);
  int fd = server.Accept();
  ASSERT_GE(fd, 0);
  stream->Send({Spec("a")});
  rpc::PushTasksRequest req;
  ASSERT_EQ(ReadRequest(fd, &req), Read::kFrame);
  ASSERT_TRUE(SendAll(fd, LittleEndian32(kMaxPushFrame + 1)));
  ExpectUnavailable(rec->WaitDone(), "127.0.0.1:" + std::to_string(server.port()), "bad frame");
  EXPECT_NE(rec->status.error_message().find("more than the limit"), std::string::npos);
}

TEST(PushPortStream, FrameThatIsNoReplyIsUnavailable) {
  Server server;
  auto rec = Recorder::Make();
  auto stream = OpenOn(server, rec);
  int fd = server.Accept();
  ASSERT_GE(fd, 0);
  stream->Send({Spec("a")});
  rpc::PushTasksRequest req;
  ASSERT_EQ(ReadRequest(fd, &req), Read::kFrame);
  ASSERT_TRUE(Reply(fd, {"a"}));  // a good frame first: it is delivered
  ASSERT_TRUE(SendAll(fd, LittleEndian32(3) + std::string("\xff\xff\xff", 3)));
  ExpectUnavailable(rec->WaitDone(), "127.0.0.1:" + std::to_string(server.port()), "not a PushTasksReply");
  EXPECT_EQ(rec->result_ids, std::vector<std::string>{"a"});
}

TEST(PushPortStream, WorkerClosingInsideAFrameIsUnavailable) {
  Server server;
  auto rec = Recorder::Make();
  auto stream = OpenOn(server, rec);
  int fd = server.Accept();
  ASSERT_GE(fd, 0);
  stream->Send({Spec("a")});
  stream->Close();
  rpc::PushTasksRequest req;
  ASSERT_EQ(ReadRequest(fd, &req), Read::kFrame);
  ASSERT_EQ(ReadRequest(fd, &req), Read::kEof);
  ASSERT_TRUE(SendAll(fd, LittleEndian32(10) + "abc"));
  server.Close(fd);
  ExpectUnavailable(rec->WaitDone(), "127.0.0.1:" + std::to_string(server.port()), "inside a frame");
}

TEST(PushPortStream, RefusedConnectIsUnavailableNamingHostAndPort) {
  int port;
  {
    Server gone;  // a port nobody listens on once it closes
    port = gone.port();
  }
  auto rec = Recorder::Make();
  auto stream = PushPortStream::Open("127.0.0.1", port, rec->OnReply(rec), rec->OnDone(rec));
  stream->Send({Spec("a")});
  stream->Close();
  ExpectUnavailable(rec->WaitDone(), "127.0.0.1:" + std::to_string(port), "cannot connect");
  EXPECT_TRUE(rec->result_ids.empty());
}

// ------------------------------------------------------------------ the choice of stream

TEST(OpenTaskStream, UsesThePushPortUnlessTheAddressHasNoneOrItIsTurnedOff) {
  Server server;
  Channels channels;
  rpc::Address worker;
  worker.set_host("127.0.0.1");
  worker.set_port(1);  // gRPC: nothing there
  worker.set_push_port(server.port());
  ::unsetenv("POLYRAY_PUSH_PORT");

  auto rec = Recorder::Make();
  std::shared_ptr<TaskStream> s = OpenTaskStream(channels, worker, rec->OnReply(rec), rec->OnDone(rec));
  EXPECT_NE(dynamic_cast<PushPortStream*>(s.get()), nullptr);
  int fd = server.Accept();
  ASSERT_GE(fd, 0);
  s->Close();
  rpc::PushTasksRequest req;
  EXPECT_EQ(ReadRequest(fd, &req), Read::kEof);
  server.Close(fd);
  EXPECT_TRUE(rec->WaitDone().ok());

  for (bool turned_off : {false, true}) {
    rpc::Address a = worker;
    if (turned_off) {
      ::setenv("POLYRAY_PUSH_PORT", "0", 1);
    } else {
      a.set_push_port(0);
    }
    auto r = Recorder::Make();
    std::shared_ptr<TaskStream> g = OpenTaskStream(channels, a, r->OnReply(r), r->OnDone(r));
    EXPECT_NE(dynamic_cast<PushStream*>(g.get()), nullptr) << (turned_off ? "POLYRAY_PUSH_PORT=0" : "no push_port");
    g->Close();
    EXPECT_FALSE(r->WaitDone().ok());  // nothing serves gRPC there
  }
  ::unsetenv("POLYRAY_PUSH_PORT");
}

}  // namespace
}  // namespace polyray::core

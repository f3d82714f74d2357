// The C++ CoreWorker as a driver, against a real embedded head (GCS +
// raylet, Python workers) started by internal::StartDriver: Python
// functions and an actor called through the runtime boundary, Put/Get small
// and large (zero copy from the shared store), Wait, Get timeouts, errors as
// kError views, named-actor look-up, and objects freed once their
// references drop. Needs the repository's .venv (POLYRAY_PYTHON).
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "core/auth.h"
#include "core/core_worker.h"
#include "core/store_io.h"
#include "polyray/codec.h"
#include "polyray/exceptions.h"
#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"
#include "polyray/protocol/core_worker.pb.h"
#include "polyray/store.h"

namespace polyray::core {
namespace {

using internal::Encode;
using internal::FunctionDescriptor;
using internal::RefPtr;
using internal::TaskArg;

const char* kModule = R"PY(
import time


def big(n):
    return b"x" * n


def length(b):
    return len(b)


def slow(seconds):
    time.sleep(seconds)
    return seconds


class Counter:
    def __init__(self, start):
        self.n = start

    def add(self, k):
        self.n += k
        return self.n
)PY";

/// One embedded head and driver per test (each test is its own process).
class CoreDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("POLYRAY_PYTHON", POLYRAY_SOURCE_DIR "/.venv/bin/python", 0);
    char dir[] = "/tmp/polyray-core-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    code_dir_ = dir;
    std::ofstream(code_dir_ + "/core_test_mod.py") << kModule;
    internal::DriverConfig config;
    config.code_search_path = {code_dir_};
    internal::StartDriver(config);
  }
  void TearDown() override {
    internal::StopDriver();
    std::error_code ignored;
    std::filesystem::remove_all(code_dir_, ignored);
  }

  CoreWorker& core() { return dynamic_cast<CoreWorker&>(internal::CurrentRuntime()); }
  internal::Runtime& rt() { return internal::CurrentRuntime(); }

  static FunctionDescriptor Py(const std::string& module, const std::string& name) {
    return FunctionDescriptor{Language::kPython, module, name, ""};
  }
  /// Task arguments holding the encoded values `v...`.
  template <typename... T>
  static std::vector<TaskArg> Args(const T&... v) {
    std::vector<TaskArg> args;
    (args.push_back(TaskArg{Encode(v), nullptr}), ...);
    return args;
  }
  RefPtr Call(const FunctionDescriptor& f, std::vector<TaskArg> args) {
    std::vector<RefPtr> refs = rt().SubmitTask(f, std::move(args), internal::CallOptions{});
    EXPECT_EQ(refs.size(), 1u);
    return refs.at(0);
  }
  template <typename T>
  T GetAs(const RefPtr& ref, int64_t timeout_ms = 60'000) {
    std::vector<internal::ValueView> views = rt().Get({ref}, timeout_ms);
    return internal::Decode<T>(views.at(0), "result");
  }
  /// Whether `ptr` points into the shared-memory object `oid` as mapped by this process.
  bool InStoreMapping(const std::string& oid, const void* ptr) {
    polyray::ObjectView v = core().store().Open().GetOne(polyray::ObjectId::FromBinary(oid), 1000);
    auto p = static_cast<const uint8_t*>(ptr);
    return p >= v.data() && p < v.data() + v.size();
  }
  bool StoreHolds(const std::string& oid) {
    return core().store().Open().Contains(polyray::ObjectId::FromBinary(oid));
  }

  std::string code_dir_;
};

TEST_F(CoreDriverTest, CallsAPythonFunction) {
  RefPtr sum = Call(Py("operator", "add"), Args(int64_t{40}, int64_t{2}));
  EXPECT_EQ(GetAs<int64_t>(sum), 42);
  // The return is owned here and its ID is TaskID ‖ uint32le(1).
  rpc::ObjectRef msg;
  ASSERT_TRUE(msg.ParseFromString(sum->serialized));
  EXPECT_EQ(msg.owner().worker_id(), core().worker_id());
  EXPECT_EQ(sum->object_id.size(), 28u);
  EXPECT_EQ(sum->object_id.substr(24), std::string("\x01\x00\x00\x00", 4));
}

TEST_F(CoreDriverTest, ManyTasksShareLeases) {
  std::vector<RefPtr> refs;
  for (int i = 0; i < 50; ++i) {
    refs.push_back(Call(Py("operator", "add"), Args(int64_t{i}, int64_t{1})));
  }
  std::vector<internal::ValueView> views = rt().Get(refs, 60'000);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(internal::Decode<int64_t>(views[i], "r"), i + 1);
}

TEST_F(CoreDriverTest, PutGetSmall) {
  RefPtr r = rt().Put(Encode(std::string("hello")));
  EXPECT_EQ(r->object_id.substr(24, 4), std::string("\x01\x00\x00\x80", 4));  // first put
  EXPECT_EQ(GetAs<std::string>(r), "hello");
  EXPECT_FALSE(StoreHolds(r->object_id));  // small: in memory only
}

TEST_F(CoreDriverTest, PutGetLargeIsZeroCopyFromTheStore) {
  std::vector<uint8_t> big(1 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  RefPtr r = rt().Put(Encode(big));
  ASSERT_TRUE(StoreHolds(r->object_id));
  std::vector<internal::ValueView> views = rt().Get({r}, 10'000);
  ASSERT_EQ(views[0].format, Format::kXlang);
  EXPECT_TRUE(InStoreMapping(r->object_id, views[0].body.data()));
  EXPECT_EQ(internal::Decode<std::vector<uint8_t>>(views[0], "value"), big);
}

TEST_F(CoreDriverTest, LargeReturnOfAPythonTaskIsReadFromTheStore) {
  RefPtr r = Call(Py("core_test_mod", "big"), Args(int64_t{500'000}));
  std::vector<internal::ValueView> views = rt().Get({r}, 60'000);
  ASSERT_EQ(views[0].format, Format::kXlang);
  EXPECT_TRUE(InStoreMapping(r->object_id, views[0].body.data()));
  std::vector<uint8_t> v = internal::Decode<std::vector<uint8_t>>(views[0], "value");
  EXPECT_EQ(v.size(), 500'000u);
  EXPECT_EQ(v[123], 'x');
}

TEST_F(CoreDriverTest, LargeArgumentsTravelByReference) {
  std::vector<uint8_t> big(300'000, 5);
  RefPtr r = Call(Py("core_test_mod", "length"), Args(big));
  EXPECT_EQ(GetAs<int64_t>(r), 300'000);
  // A ref passed as an argument resolves to its value in the callee.
  RefPtr put = rt().Put(Encode(std::vector<uint8_t>(10, 1)));
  std::vector<TaskArg> a(1);
  a[0].ref = put;
  EXPECT_EQ(GetAs<int64_t>(Call(Py("core_test_mod", "length"), std::move(a))), 10);
}

TEST_F(CoreDriverTest, WaitReturnsTheReadyOnes) {
  RefPtr fast = Call(Py("core_test_mod", "slow"), Args(0.0));
  RefPtr slow = Call(Py("core_test_mod", "slow"), Args(20.0));
  internal::WaitResult w = rt().Wait({fast, slow}, 1, 15'000);
  ASSERT_EQ(w.ready, std::vector<size_t>{0});
  ASSERT_EQ(w.not_ready, std::vector<size_t>{1});
  w = rt().Wait({fast, slow}, 2, 100);
  EXPECT_EQ(w.ready, std::vector<size_t>{0});
}

TEST_F(CoreDriverTest, GetTimesOut) {
  RefPtr slow = Call(Py("core_test_mod", "slow"), Args(20.0));
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(rt().Get({slow}, 300), polyray::GetTimeoutError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(CoreDriverTest, APythonExceptionIsAnErrorView) {
  RefPtr r = Call(Py("operator", "truediv"), Args(int64_t{1}, int64_t{0}));
  std::vector<internal::ValueView> views = rt().Get({r}, 60'000);
  ASSERT_EQ(views[0].format, Format::kError);
  rpc::ErrorRecord record;
  ASSERT_TRUE(record.ParseFromArray(views[0].body.data(), static_cast<int>(views[0].body.size())));
  EXPECT_EQ(record.kind(), rpc::TASK_ERROR);
  EXPECT_EQ(record.type_name(), "ZeroDivisionError");
  EXPECT_EQ(record.language(), rpc::PYTHON);
  EXPECT_THROW(internal::Decode<int64_t>(views[0], "r"), polyray::Error);
}

TEST_F(CoreDriverTest, GetActorOfAMissingNameThrows) {
  EXPECT_THROW(rt().GetActor("no-such-actor", ""), polyray::Error);
}

TEST_F(CoreDriverTest, PythonActorCallsRunInOrder) {
  internal::CallOptions named;
  named.name = "counter";
  internal::ActorPtr actor = rt().CreateActor(Py("core_test_mod", "Counter"), Args(int64_t{10}), named);
  std::vector<RefPtr> refs;
  for (int i = 0; i < 5; ++i) {
    std::vector<RefPtr> r = rt().SubmitActorTask(actor, FunctionDescriptor{Language::kPython, "add", "", ""},
                                                 Args(int64_t{1}), internal::CallOptions{});
    refs.push_back(r.at(0));
  }
  std::vector<internal::ValueView> views = rt().Get(refs, 60'000);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(internal::Decode<int64_t>(views[i], "r"), 11 + i);
  internal::ActorPtr found = rt().GetActor("counter", "");
  EXPECT_EQ(found->actor_id, actor->actor_id);

  rt().KillActor(actor, true);
  RefPtr after = rt().SubmitActorTask(actor, FunctionDescriptor{Language::kPython, "add", "", ""}, Args(int64_t{1}),
                                      internal::CallOptions{}).at(0);
  std::vector<internal::ValueView> dead = rt().Get({after}, 60'000);
  ASSERT_EQ(dead[0].format, Format::kError);
  rpc::ErrorRecord record;
  ASSERT_TRUE(record.ParseFromArray(dead[0].body.data(), static_cast<int>(dead[0].body.size())));
  EXPECT_EQ(record.kind(), rpc::ACTOR_DIED);
}

TEST_F(CoreDriverTest, ObjectsAreFreedWhenTheirReferencesDrop) {
  std::string put_id;
  std::string ret_id;
  {
    RefPtr put = rt().Put(Encode(std::vector<uint8_t>(400'000, 1)));
    RefPtr ret = Call(Py("core_test_mod", "big"), Args(int64_t{300'000}));
    rt().Get({ret}, 60'000);
    put_id = put->object_id;
    ret_id = ret->object_id;
    ASSERT_TRUE(StoreHolds(put_id));
    ASSERT_TRUE(StoreHolds(ret_id));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((StoreHolds(put_id) || StoreHolds(ret_id)) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(StoreHolds(put_id));
  EXPECT_FALSE(StoreHolds(ret_id));
  EXPECT_EQ(core().references().Size(), 0u);
}

/// Sends `body` as the request of CoreWorkerService/`method` of this driver; the status.
grpc::Status CallRaw(CoreWorker& core, const std::string& method, const std::string& body,
                     grpc::ByteBuffer* reply = nullptr) {
  auto channel = AuthChannel(core.address().host() + ":" + std::to_string(core.address().port()),
                            grpc::ChannelArguments());  // with the cluster token
  grpc::GenericStub stub(channel);
  grpc::Slice slice(body);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer out;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/polyray.rpc.CoreWorkerService/" + method, grpc::StubOptions(), &request, &out,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = s;
                   done = true;
                   cv.notify_all();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (reply != nullptr) *reply = out;
  return status;
}

TEST_F(CoreDriverTest, AnUndecodableRequestIsInvalidArgumentNamingTheMethod) {
  // Bytes that are no protobuf message: a field tag with wire type 7 (invalid).
  const std::string garbage("\x0f\xff\xff\xff", 4);
  for (const char* method : {"GetObject", "GetObjects", "UpdateBorrows", "AddObjectLocation", "CancelTask", "Exit"}) {
    grpc::Status s = CallRaw(core(), method, garbage);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method << ": " << s.error_message();
    EXPECT_NE(s.error_message().find(std::string("CoreWorkerService/") + method), std::string::npos)
        << s.error_message();
  }
  // A request that decodes but has a bad field names the field; a sound one is answered.
  rpc::GetObjectRequest bad;
  bad.set_object_id("abc");
  grpc::Status s = CallRaw(core(), "GetObject", bad.SerializeAsString());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("GetObjectRequest.object_id"), std::string::npos) << s.error_message();
  RefPtr put = rt().Put(Encode(int64_t{7}));
  rpc::GetObjectRequest good;
  good.set_object_id(put->object_id);
  grpc::ByteBuffer out;
  ASSERT_TRUE(CallRaw(core(), "GetObject", good.SerializeAsString(), &out).ok());
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(out.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  rpc::GetObjectReply reply;
  ASSERT_TRUE(reply.ParseFromString(bytes));
  EXPECT_TRUE(reply.found());
  EXPECT_EQ(reply.object().object_id(), put->object_id);
}

}  // namespace
}  // namespace polyray::core

// The C++ CoreWorker in worker mode (internal::RunWorker), end to end: this
// test binary is also the C++ worker the raylet starts (POLYRAY_CPP_WORKER
// points at it, and with POLYRAY_WORKER_ID set it runs RunWorker with the
// small executor below instead of the tests). The driver side is the C++
// CoreWorker too: tasks and an actor in C++, large returns and arguments
// through the shared store, errors, a worker crash, and a nested task that
// the worker submits to Python.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/core_worker.h"
#include "core/store_io.h"
#include "polyray/codec.h"
#include "polyray/exceptions.h"
#include "polyray/internal/runtime.h"
#include "polyray/protocol/common.pb.h"
#include "polyray/store.h"

namespace polyray::core {
namespace {

using internal::Decode;
using internal::Encode;
using internal::FunctionDescriptor;
using internal::RefPtr;
using internal::TaskArg;
using internal::TaskInvocation;
using internal::TaskOutcome;

// ------------------------------------------------------------------ worker side

std::mutex g_actors_mu;
std::map<std::string, int64_t> g_counters;  // actor id -> value

TaskOutcome Ok(internal::Encoded e) {
  TaskOutcome out;
  out.returns.push_back(std::move(e));
  return out;
}

TaskOutcome TestExecutor(const TaskInvocation& inv) {
  try {
    const std::string& f = inv.function_name;
    if (f == "Add") {
      return Ok(Encode(Decode<int64_t>(inv.args.at(0), "a") + Decode<int64_t>(inv.args.at(1), "b")));
    }
    if (f == "Big") {
      return Ok(Encode(std::vector<uint8_t>(static_cast<size_t>(Decode<int64_t>(inv.args.at(0), "n")), 'y')));
    }
    if (f == "Len") {
      return Ok(Encode(static_cast<int64_t>(Decode<std::vector<uint8_t>>(inv.args.at(0), "b").size())));
    }
    if (f == "Fail") throw std::runtime_error("failing on purpose");
    if (f == "Crash") {
      std::fflush(stdout);
      _exit(7);
    }
    if (f == "NestedAdd") {
      // A task that submits a task (to Python) through its own runtime.
      std::vector<TaskArg> args(2);
      args[0].value = Encode<int64_t>(40);
      args[1].value = Encode<int64_t>(2);
      std::vector<RefPtr> refs = internal::CurrentRuntime().SubmitTask(
          FunctionDescriptor{Language::kPython, "operator", "add", ""}, std::move(args), internal::CallOptions{});
      std::vector<internal::ValueView> v = internal::CurrentRuntime().Get(refs, 60'000);
      return Ok(Encode(Decode<int64_t>(v.at(0), "nested")));
    }
    if (f == "PutRef") {
      // As `return polyray::Put(v);`: the task's only reference is inside its
      // return value and dies once the value is encoded.
      RefPtr put = internal::CurrentRuntime().Put(
          Encode(std::vector<uint8_t>(static_cast<size_t>(Decode<int64_t>(inv.args.at(0), "n")), 'p')));
      return Ok(Encode(polyray::ObjectRef<std::vector<uint8_t>>(std::move(put))));
    }
    if (f == "Counter::Create") {
      std::lock_guard<std::mutex> lock(g_actors_mu);
      g_counters[inv.actor_id] = Decode<int64_t>(inv.args.at(0), "start");
      return TaskOutcome{};
    }
    if (f == "Counter::Add") {
      std::lock_guard<std::mutex> lock(g_actors_mu);
      int64_t& n = g_counters.at(inv.actor_id);
      n += Decode<int64_t>(inv.args.at(0), "k");
      return Ok(Encode(n));
    }
    throw std::invalid_argument("unknown function " + f);
  } catch (const std::exception& e) {
    TaskOutcome out;
    out.error_record = internal::MakeCppErrorRecord(
        dynamic_cast<const std::invalid_argument*>(&e) ? "std::invalid_argument" : "std::runtime_error", e.what(), "",
        "");
    return out;
  }
}

const int kWorkerMode = [] {
  const char* flag = std::getenv("POLYRAY_CORE_TEST_WORKER");
  if (flag && *flag == '1' && std::getenv("POLYRAY_WORKER_ID")) {
    int code = internal::RunWorker(TestExecutor);
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(code);
  }
  return 0;
}();

// ------------------------------------------------------------------ driver side

class CoreWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    (void)kWorkerMode;
    setenv("POLYRAY_PYTHON", POLYRAY_SOURCE_DIR "/.venv/bin/python", 0);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    ASSERT_GT(n, 0);
    self[n] = '\0';
    setenv("POLYRAY_CPP_WORKER", self, 1);
    setenv("POLYRAY_CORE_TEST_WORKER", "1", 1);
    internal::StartDriver(internal::DriverConfig{});
  }
  void TearDown() override { internal::StopDriver(); }

  internal::Runtime& rt() { return internal::CurrentRuntime(); }
  CoreWorker& core() { return dynamic_cast<CoreWorker&>(internal::CurrentRuntime()); }

  static FunctionDescriptor Cpp(const std::string& name, const std::string& cls = "") {
    return FunctionDescriptor{Language::kCpp, name, cls, ""};
  }
  template <typename... T>
  static std::vector<TaskArg> Args(const T&... v) {
    std::vector<TaskArg> out;
    (out.push_back(TaskArg{Encode(v), nullptr}), ...);
    return out;
  }
  RefPtr Call(const FunctionDescriptor& f, std::vector<TaskArg> args,
              internal::CallOptions options = internal::CallOptions{}) {
    return rt().SubmitTask(f, std::move(args), options).at(0);
  }
  internal::ValueView GetOne(const RefPtr& r) { return rt().Get({r}, 60'000).at(0); }
  rpc::ErrorRecord RecordOf(const internal::ValueView& v) {
    rpc::ErrorRecord record;
    EXPECT_EQ(v.format, Format::kError);
    record.ParseFromArray(v.body.data(), static_cast<int>(v.body.size()));
    return record;
  }
  bool StoreHolds(const std::string& oid) {
    return core().store().Open().Contains(polyray::ObjectId::FromBinary(oid));
  }
};

TEST_F(CoreWorkerTest, RunsACppTask) {
  EXPECT_EQ(Decode<int64_t>(GetOne(Call(Cpp("Add"), Args<int64_t, int64_t>(20, 22))), "r"), 42);
  // Many tasks reuse the leased worker(s).
  std::vector<RefPtr> refs;
  for (int i = 0; i < 100; ++i) refs.push_back(Call(Cpp("Add"), Args<int64_t, int64_t>(i, i)));
  std::vector<internal::ValueView> views = rt().Get(refs, 60'000);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(Decode<int64_t>(views[i], "r"), 2 * i);
}

TEST_F(CoreWorkerTest, LargeValuesGoThroughTheStore) {
  std::string oid;
  {
    RefPtr big = Call(Cpp("Big"), Args<int64_t>(250'000));
    internal::ValueView v = GetOne(big);
    ASSERT_EQ(v.format, Format::kXlang);
    oid = big->object_id;
    EXPECT_TRUE(StoreHolds(oid));
    std::vector<uint8_t> bytes = Decode<std::vector<uint8_t>>(v, "big");
    EXPECT_EQ(bytes.size(), 250'000u);
    EXPECT_EQ(bytes[7], 'y');
    EXPECT_EQ(Decode<int64_t>(GetOne(Call(Cpp("Len"), Args(std::vector<uint8_t>(300'000, 1)))), "r"), 300'000);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (StoreHolds(oid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(StoreHolds(oid));
}

TEST_F(CoreWorkerTest, AnExceptionBecomesAnErrorValue) {
  rpc::ErrorRecord r = RecordOf(GetOne(Call(Cpp("Fail"), {})));
  EXPECT_EQ(r.kind(), rpc::TASK_ERROR);
  EXPECT_EQ(r.language(), rpc::CPP);
  EXPECT_NE(r.message().find("failing on purpose"), std::string::npos) << r.message();
}

TEST_F(CoreWorkerTest, AWorkerCrashIsWorkerCrashedAfterRetries) {
  internal::CallOptions o;
  o.max_retries = 1;
  rpc::ErrorRecord r = RecordOf(GetOne(Call(Cpp("Crash"), {}, o)));
  EXPECT_EQ(r.kind(), rpc::WORKER_CRASHED);
  EXPECT_NE(r.message().find("2 attempt(s)"), std::string::npos) << r.message();
  // The node still serves tasks afterwards.
  EXPECT_EQ(Decode<int64_t>(GetOne(Call(Cpp("Add"), Args<int64_t, int64_t>(1, 1))), "r"), 2);
}

TEST_F(CoreWorkerTest, AWorkerTaskSubmitsANestedTask) {
  EXPECT_EQ(Decode<int64_t>(GetOne(Call(Cpp("NestedAdd"), {})), "r"), 42);
}

TEST_F(CoreWorkerTest, ARefPutByATaskOutlivesTheTaskUntilTheCallerDropsIt) {
  std::string oid;
  {
    // The worker owns the put object; the driver borrows it from the return.
    internal::ValueView v = GetOne(Call(Cpp("PutRef"), Args<int64_t>(300'000)));
    ASSERT_EQ(v.format, Format::kXlang);
    auto inner = Decode<polyray::ObjectRef<std::vector<uint8_t>>>(v, "ref");
    ASSERT_TRUE(inner.entry());
    oid = inner.entry()->object_id;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // past the owner's batched frees
    internal::ValueView value = GetOne(inner.entry());
    ASSERT_EQ(value.format, Format::kXlang) << "the owner freed the object the caller holds";
    std::vector<uint8_t> bytes = Decode<std::vector<uint8_t>>(value, "value");
    EXPECT_EQ(bytes.size(), 300'000u);
    EXPECT_EQ(bytes[11], 'p');
    EXPECT_TRUE(StoreHolds(oid));
    // And it can be passed on to another task.
    EXPECT_EQ(Decode<int64_t>(GetOne(Call(Cpp("Len"), {TaskArg{{}, inner.entry()}})), "r"), 300'000);
  }
  // The driver dropped its last reference: the owner frees the object.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (StoreHolds(oid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(StoreHolds(oid));
}

TEST_F(CoreWorkerTest, ActorCallsRunInOrder) {
  internal::ActorPtr actor =
      rt().CreateActor(Cpp("Counter::Create", "Counter"), Args<int64_t>(100), internal::CallOptions{});
  std::vector<RefPtr> refs;
  for (int i = 0; i < 20; ++i) {
    refs.push_back(rt().SubmitActorTask(actor, Cpp("Add"), Args<int64_t>(1), internal::CallOptions{}).at(0));
  }
  std::vector<internal::ValueView> views = rt().Get(refs, 60'000);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Decode<int64_t>(views[i], "r"), 101 + i);
}

}  // namespace
}  // namespace polyray::core

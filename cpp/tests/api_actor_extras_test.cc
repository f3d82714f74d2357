// Actor functions (a free function taking `Class&` first, run with an actor's
// instance by __polyray_call__ / handle.Call) and POLYRAY_REMOTE_IN_GROUP
// (a method's default concurrency group), in-process: their registry
// entries, the executor's kActorCall with its class check, the group
// conflicts the registry reports, and the caller-side resolution of Call().
//
// Invariants: no runtime is started; each test case runs in its own process
// (gtest_discover_tests).
#include <gtest/gtest.h>
#include <polyray/api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "api/function_executor.h"
#include "codec_test_util.h"
#include "polyray/protocol/common.pb.h"

namespace {

using polyray::internal::Encode;
using polyray::internal::Encoded;
using polyray::internal::EntryKind;
using polyray::internal::FunctionExecutor;
using polyray::internal::Registry;
using polyray::internal::RegisteredEntry;
using polyray::internal::TaskInvocation;
using polyray::internal::TaskOutcome;
using polyray::testutil::ViewOf;

class Tally {
 public:
  static Tally* Make(int64_t start) { return new Tally(start); }
  explicit Tally(int64_t start) : n_(start) {}
  int64_t Add(int64_t k) { return n_ += k; }
  int64_t Read() const { return n_; }
  int64_t Slow() { return n_; }
  int64_t Twice() { return 2 * n_; }
  int64_t Clash() { return 0; }

 private:
  int64_t n_;
};

class Other {
 public:
  static Other* Make() { return new Other(); }
  int64_t Seven() const { return 7; }
};

int64_t Bump(Tally& t, int64_t k) { return t.Add(k); }
int64_t Peek(Tally& t) noexcept { return t.Read(); }
int64_t OtherSeven(Other& o) { return o.Seven(); }

}  // namespace

POLYRAY_REMOTE(Tally::Make, &Tally::Add, &Tally::Read, &Tally::Twice, &Tally::Clash, Other::Make, &Other::Seven,
               Bump, Peek, OtherSeven);
POLYRAY_REMOTE_IN_GROUP("io", &Tally::Slow, &Tally::Read);  // Read: also in POLYRAY_REMOTE above
POLYRAY_REMOTE_IN_GROUP("cpu", &Tally::Twice);
POLYRAY_REMOTE_IN_GROUP("a", &Tally::Clash);
POLYRAY_REMOTE_IN_GROUP("b", &Tally::Clash);

namespace {

const RegisteredEntry& Entry(const std::string& name) {
  const RegisteredEntry* e = Registry::Instance().Find(name);
  if (e == nullptr) throw std::runtime_error(name + " is not registered");
  return *e;
}

TEST(ApiActorExtras, ActorFunctionsAreRegisteredWithTheirClass) {
  const RegisteredEntry& bump = Entry("Bump");
  EXPECT_EQ(bump.kind, EntryKind::kActorFunction);
  EXPECT_EQ(bump.arity, 1u);  // besides the actor
  ASSERT_NE(bump.class_type, nullptr);
  EXPECT_TRUE(*bump.class_type == typeid(Tally));
  EXPECT_EQ(Entry("Peek").kind, EntryKind::kActorFunction);
  EXPECT_EQ(Entry("Peek").arity, 0u);
  Tally t(5);
  std::vector<Encoded> args;
  args.push_back(Encode(int64_t{3}));
  Encoded out = bump.invoke(&t, {ViewOf(args[0])});
  EXPECT_EQ(polyray::internal::Decode<int64_t>(ViewOf(out), "result"), 8);
  EXPECT_EQ(t.Read(), 8);
}

TEST(ApiActorExtras, InGroupSetsTheMethodsDefaultGroup) {
  EXPECT_EQ(Entry("Tally::Slow").concurrency_group, "io");
  EXPECT_EQ(Entry("Tally::Slow").kind, EntryKind::kMethod);
  EXPECT_EQ(Entry("Tally::Read").concurrency_group, "io");  // registered by both lines
  EXPECT_EQ(Entry("Tally::Twice").concurrency_group, "cpu");
  EXPECT_EQ(Entry("Tally::Add").concurrency_group, "");
  auto groups = Registry::Instance().MethodGroupsOf("Tally::Make");
  EXPECT_EQ(groups.size(), 4u);  // Slow, Read, Twice, and Clash with its first group (its calls fail: two groups)
  EXPECT_EQ(groups["Tally::Slow"], "io");
  EXPECT_EQ(groups["Tally::Twice"], "cpu");
  EXPECT_TRUE(Registry::Instance().MethodGroupsOf("Other::Make").empty());
  EXPECT_TRUE(Registry::Instance().MethodGroupsOf("Nope").empty());
  EXPECT_TRUE(Registry::Instance().MethodGroupsOf("Bump").empty());  // not a factory
}

TEST(ApiActorExtras, TwoGroupsForOneMethodAreReportedNamingBoth) {
  try {
    Registry::Instance().Find("Tally::Clash");
    FAIL() << "no error for a method in two groups";
  } catch (const polyray::internal::InvocationError& e) {
    EXPECT_NE(std::string(e.what()).find("Tally::Clash is registered in two concurrency groups ('a' and 'b')"),
              std::string::npos)
        << e.what();
  }
  bool listed = false;
  for (const std::string& p : Registry::Instance().Problems()) listed |= p.find("Tally::Clash") != std::string::npos;
  EXPECT_TRUE(listed);
}

TaskInvocation Invocation(TaskInvocation::Kind kind, std::string name, const std::vector<Encoded>& args,
                          const std::string& actor_id) {
  TaskInvocation inv;
  inv.kind = kind;
  inv.function_name = std::move(name);
  inv.actor_id = actor_id;
  for (const Encoded& e : args) inv.args.push_back(ViewOf(e));
  return inv;
}

std::string ErrorOf(const TaskOutcome& outcome) {
  polyray::rpc::ErrorRecord record;
  EXPECT_TRUE(record.ParseFromString(outcome.error_record));
  return record.message();
}

TEST(ApiActorExtras, ExecutorRunsAnActorCallWithTheInstanceAndChecksItsClass) {
  FunctionExecutor executor(polyray::internal::LoadReport{});
  const std::string id(16, 't');
  std::vector<Encoded> start;
  start.push_back(Encode(int64_t{10}));
  ASSERT_TRUE(executor.Execute(Invocation(TaskInvocation::Kind::kActorCreation, "Tally::Make", start, id))
                  .error_record.empty());
  std::vector<Encoded> two;
  two.push_back(Encode(int64_t{2}));
  TaskOutcome bumped = executor.Execute(Invocation(TaskInvocation::Kind::kActorCall, "Bump", two, id));
  ASSERT_TRUE(bumped.error_record.empty()) << ErrorOf(bumped);
  EXPECT_EQ(polyray::internal::Decode<int64_t>(ViewOf(bumped.returns.at(0)), "r"), 12);
  TaskOutcome read = executor.Execute(Invocation(TaskInvocation::Kind::kActorMethod, "Tally::Read", {}, id));
  EXPECT_EQ(polyray::internal::Decode<int64_t>(ViewOf(read.returns.at(0)), "r"), 12);  // the same instance
  // Not a function of this actor's class, a method, an unknown name: errors naming it.
  std::string msg = ErrorOf(executor.Execute(Invocation(TaskInvocation::Kind::kActorCall, "OtherSeven", {}, id)));
  EXPECT_NE(msg.find("OtherSeven is not a function of actor class"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Tally"), std::string::npos) << msg;
  msg = ErrorOf(executor.Execute(Invocation(TaskInvocation::Kind::kActorCall, "Tally::Read", {}, id)));
  EXPECT_NE(msg.find("Tally::Read is an actor method"), std::string::npos) << msg;
  msg = ErrorOf(executor.Execute(Invocation(TaskInvocation::Kind::kActorCall, "Nope", {}, id)));
  EXPECT_NE(msg.find("Nope is not registered"), std::string::npos) << msg;
  // An actor function is not a plain method or task.
  msg = ErrorOf(executor.Execute(Invocation(TaskInvocation::Kind::kActorMethod, "Bump", two, id)));
  EXPECT_NE(msg.find("Bump is an actor function"), std::string::npos) << msg;
}

TEST(ApiActorExtras, CallResolvesTheRegisteredNameBeforeNeedingARuntime) {
  polyray::ActorHandle<Tally> handle;  // empty: Remote() fails only at submission
  EXPECT_NO_THROW(handle.Call(&Bump));
  EXPECT_NO_THROW(handle.Call(&Peek));
  EXPECT_THROW(handle.Call(&Bump).Remote(int64_t{1}), polyray::Error);  // an empty handle
}

}  // namespace

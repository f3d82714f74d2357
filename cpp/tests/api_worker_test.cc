// The C++ worker's executor and library loader, in-process and without a
// cluster: the test libraries (testlibs/ok, dup, broken) are dlopened as
// polyray_cpp_worker does, and TaskInvocations are run through
// FunctionExecutor, checking results and the error records callers get.
//
// Invariants: each test case runs in its own process (gtest_discover_tests),
// so the libraries a case loads do not leak into another case.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/function_executor.h"
#include "api/library_loader.h"
#include "codec_test_util.h"
#include "polyray/codec.h"
#include "polyray/protocol/common.pb.h"

namespace {

using polyray::internal::Encode;
using polyray::internal::Encoded;
using polyray::internal::FunctionExecutor;
using polyray::internal::LoadCodeSearchPath;
using polyray::internal::LoadReport;
using polyray::internal::TaskInvocation;
using polyray::internal::TaskOutcome;
using polyray::internal::ValueView;
using polyray::testutil::ViewOf;

const std::string kLibs = std::string(POLYRAY_BINARY_DIR) + "/testlibs";

/// An invocation whose arguments are views of `args` (kept in `storage`).
TaskInvocation Invocation(TaskInvocation::Kind kind, std::string name, std::vector<Encoded> args,
                          std::vector<Encoded>* storage, std::string actor_id = "") {
  *storage = std::move(args);
  TaskInvocation inv;
  inv.kind = kind;
  inv.function_name = std::move(name);
  inv.actor_id = std::move(actor_id);
  for (const Encoded& e : *storage) inv.args.push_back(ViewOf(e));
  return inv;
}

polyray::rpc::ErrorRecord Record(const TaskOutcome& outcome) {
  polyray::rpc::ErrorRecord record;
  EXPECT_FALSE(outcome.error_record.empty());
  EXPECT_TRUE(record.ParseFromString(outcome.error_record));
  return record;
}

template <typename T>
T Result(const TaskOutcome& outcome) {
  EXPECT_TRUE(outcome.error_record.empty()) << Record(outcome).message();
  EXPECT_EQ(outcome.returns.size(), 1u);
  return polyray::internal::Decode<T>(ViewOf(outcome.returns.at(0)), "result");
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

constexpr auto kNormal = TaskInvocation::Kind::kNormal;
constexpr auto kCreate = TaskInvocation::Kind::kActorCreation;
constexpr auto kMethod = TaskInvocation::Kind::kActorMethod;

TEST(ApiWorker, SplitSearchPath) {
  EXPECT_EQ(polyray::internal::SplitSearchPath("a::b:"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(polyray::internal::SplitSearchPath("").empty());
}

TEST(ApiWorker, LoadsEverySharedLibraryOfADirectory) {
  LoadReport report = LoadCodeSearchPath({kLibs + "/ok"});
  ASSERT_EQ(report.loaded.size(), 1u);
  EXPECT_TRUE(Contains(report.loaded[0], "libpolyray_api_testfns.so"));
  EXPECT_TRUE(report.failed.empty());
}

TEST(ApiWorker, RunsFunctions) {
  FunctionExecutor executor(LoadCodeSearchPath({kLibs + "/ok"}));
  std::vector<Encoded> args;
  EXPECT_EQ(Result<int>(executor.Execute(Invocation(kNormal, "Plus1", {Encode(41)}, &args))), 42);
  EXPECT_EQ(Result<std::string>(executor.Execute(
                Invocation(kNormal, "Greet", {Encode(std::string("C++"))}, &args))),
            "hello C++");
  EXPECT_EQ(Result<int64_t>(executor.Execute(
                Invocation(kNormal, "Sum", {Encode(std::vector<int64_t>{1, 2, 3})}, &args))),
            6);
  TaskOutcome nothing = executor.Execute(Invocation(kNormal, "Nothing", {}, &args));
  EXPECT_TRUE(nothing.error_record.empty());
  EXPECT_EQ(nothing.returns.at(0).body, Encode<std::nullptr_t>(nullptr).body);
}

TEST(ApiWorker, UnknownFunctionNamesItTheSearchPathAndTheLibraries) {
  FunctionExecutor executor(LoadCodeSearchPath({kLibs + "/ok", kLibs + "/broken", "/no/such/dir"}));
  std::vector<Encoded> args;
  TaskOutcome outcome = executor.Execute(Invocation(kNormal, "Plus2", {Encode(1)}, &args));
  polyray::rpc::ErrorRecord record = Record(outcome);
  EXPECT_EQ(record.kind(), polyray::rpc::RUNTIME_ERROR);
  EXPECT_EQ(record.language(), polyray::rpc::CPP);
  const std::string& m = record.message();
  EXPECT_TRUE(Contains(m, "Plus2")) << m;
  EXPECT_TRUE(Contains(m, kLibs + "/ok:" + kLibs + "/broken:/no/such/dir")) << m;
  EXPECT_TRUE(Contains(m, "libpolyray_api_testfns.so")) << m;
  EXPECT_TRUE(Contains(m, "libpolyray_api_testbroken.so")) << m;
  EXPECT_TRUE(Contains(m, "polyray_api_test_missing_symbol")) << m;
  EXPECT_TRUE(Contains(m, "/no/such/dir: no such file or directory")) << m;
  EXPECT_TRUE(Contains(m, "Plus1")) << m;  // the registered names
  EXPECT_FALSE(outcome.worker_exiting);
  // The worker keeps serving.
  EXPECT_EQ(Result<int>(executor.Execute(Invocation(kNormal, "Plus1", {Encode(1)}, &args))), 2);
}

TEST(ApiWorker, WrongArgumentCountAndTypeNameTheFunction) {
  FunctionExecutor executor(LoadCodeSearchPath({kLibs + "/ok"}));
  std::vector<Encoded> args;
  polyray::rpc::ErrorRecord count =
      Record(executor.Execute(Invocation(kNormal, "Plus1", {Encode(1), Encode(2)}, &args)));
  EXPECT_EQ(count.kind(), polyray::rpc::RUNTIME_ERROR);
  EXPECT_EQ(count.message(), "Plus1 takes 1 argument but 2 were given");
  polyray::rpc::ErrorRecord type =
      Record(executor.Execute(Invocation(kNormal, "Plus1", {Encode(std::string("x"))}, &args)));
  EXPECT_EQ(type.kind(), polyray::rpc::RUNTIME_ERROR);
  EXPECT_TRUE(Contains(type.message(), "argument 0 of Plus1")) << type.message();
}

TEST(ApiWorker, CalleeExceptionBecomesACppErrorRecord) {
  FunctionExecutor executor(LoadCodeSearchPath({kLibs + "/ok"}));
  std::vector<Encoded> args;
  polyray::rpc::ErrorRecord record =
      Record(executor.Execute(Invocation(kNormal, "Fail", {Encode(std::string("bad input"))}, &args)));
  EXPECT_EQ(record.kind(), polyray::rpc::TASK_ERROR);
  EXPECT_EQ(record.language(), polyray::rpc::CPP);
  EXPECT_EQ(record.type_name(), "std::invalid_argument");
  EXPECT_EQ(record.message(), "bad input");
  EXPECT_TRUE(Contains(record.traceback(), "Fail")) << record.traceback();
}

TEST(ApiWorker, ActorLifecycle) {
  FunctionExecutor executor(LoadCodeSearchPath({kLibs + "/ok"}));
  std::vector<Encoded> args;
  const std::string id(16, 'a');
  TaskOutcome created = executor.Execute(Invocation(kCreate, "Counter::Create", {Encode(10)}, &args, id));
  EXPECT_TRUE(created.error_record.empty());
  EXPECT_FALSE(created.worker_exiting);
  EXPECT_EQ(executor.ActorCount(), 1u);
  EXPECT_EQ(Result<int>(executor.Execute(Invocation(kMethod, "Counter::Add", {Encode(5)}, &args, id))), 15);
  EXPECT_EQ(Result<int>(executor.Execute(Invocation(kMethod, "Counter::Get", {}, &args, id))), 15);
  polyray::rpc::ErrorRecord boom = Record(executor.Execute(Invocation(kMethod, "Counter::Boom", {}, &args, id)));
  EXPECT_EQ(boom.type_name(), "std::logic_error");
  EXPECT_EQ(boom.message(), "boom at 15");
  // A method of another class does not run on this instance.
  polyray::rpc::ErrorRecord other = Record(executor.Execute(Invocation(kMethod, "Other::Seven", {}, &args, id)));
  EXPECT_TRUE(Contains(other.message(), "Other::Seven is a method of Other")) << other.message();
  // An actor this worker does not host.
  polyray::rpc::ErrorRecord missing =
      Record(executor.Execute(Invocation(kMethod, "Counter::Get", {}, &args, std::string(16, 'b'))));
  EXPECT_EQ(missing.kind(), polyray::rpc::ACTOR_DIED);
  // The actor still works.
  EXPECT_EQ(Result<int>(executor.Execute(Invocation(kMethod, "Counter::Add", {Encode(1)}, &args, id))), 16);
}

TEST(ApiWorker, FactoryThatThrowsEndsTheActor) {
  FunctionExecutor executor(LoadCodeSearchPath({kLibs + "/ok"}));
  std::vector<Encoded> args;
  TaskOutcome outcome =
      executor.Execute(Invocation(kCreate, "Counter::CreateBroken", {Encode(3)}, &args, std::string(16, 'c')));
  polyray::rpc::ErrorRecord record = Record(outcome);
  EXPECT_TRUE(outcome.worker_exiting);
  EXPECT_EQ(record.type_name(), "std::runtime_error");
  EXPECT_EQ(record.message(), "cannot create a counter at 3");
  EXPECT_EQ(executor.ActorCount(), 0u);
  // Calling a function as a factory is refused the same way.
  TaskOutcome wrong = executor.Execute(Invocation(kCreate, "Plus1", {Encode(3)}, &args, std::string(16, 'd')));
  EXPECT_TRUE(wrong.worker_exiting);
  EXPECT_TRUE(Contains(Record(wrong).message(), "Plus1 is a function")) << Record(wrong).message();
}

TEST(ApiWorker, DuplicateNameAcrossLibrariesIsReportedOnCall) {
  FunctionExecutor executor(LoadCodeSearchPath({kLibs + "/ok", kLibs + "/dup"}));
  std::vector<Encoded> args;
  polyray::rpc::ErrorRecord record = Record(executor.Execute(Invocation(kNormal, "Plus1", {Encode(1)}, &args)));
  EXPECT_TRUE(Contains(record.message(), "Plus1")) << record.message();
  EXPECT_TRUE(Contains(record.message(), "libpolyray_api_testfns.so")) << record.message();
  EXPECT_TRUE(Contains(record.message(), "libpolyray_api_testdup.so")) << record.message();
  // Other names of the libraries still work.
  EXPECT_EQ(Result<std::string>(executor.Execute(Invocation(kNormal, "Greet", {Encode(std::string("x"))}, &args))),
            "hello x");
}

}  // namespace

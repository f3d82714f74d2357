// Errors as values in C++ (docs/protocol.md §7.6): MakeCppErrorRecord /
// ErrorRecordOfException build deterministic ErrorRecords; ThrowErrorRecord
// throws the mapped polyray exception with its cause chain; Demangle names
// exception types.
//
// Invariants checked: TASK_ERROR -> TaskException (all C++) or
// CrossLanguageException (a hop in another language); each system kind ->
// its error type; RUNTIME_ERROR -> polyray::Error; every exception keeps its
// own serialized record; causes are built recursively.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "codec/envelope.h"
#include "polyray/codec.h"
#include "polyray/internal/errors.h"
#include "polyray/protocol/common.pb.h"

namespace app {
/// A user exception type in a namespace, to check demangling.
struct QuotaExceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace app

namespace polyray {
namespace {

rpc::ErrorRecord Record(rpc::ErrorKind kind, rpc::Language lang, const std::string& type,
                        const std::string& msg, const std::string& tb = "") {
  rpc::ErrorRecord r;
  r.set_kind(kind);
  r.set_language(lang);
  r.set_type_name(type);
  r.set_message(msg);
  r.set_traceback(tb);
  return r;
}

std::string Ser(const rpc::ErrorRecord& r) { return internal::SerializeDeterministic(r); }

rpc::ErrorRecord Parse(const std::string& bytes) {
  rpc::ErrorRecord r;
  EXPECT_TRUE(r.ParseFromString(bytes));
  return r;
}

TEST(CodecErrors, MakeCppErrorRecordIsDeterministic) {
  const std::string rec =
      internal::MakeCppErrorRecord("std::invalid_argument", "negative size", "  at Resize\n", "");
  const rpc::ErrorRecord r = Parse(rec);
  EXPECT_EQ(r.kind(), rpc::TASK_ERROR);
  EXPECT_EQ(r.language(), rpc::CPP);
  EXPECT_EQ(r.type_name(), "std::invalid_argument");
  EXPECT_EQ(r.message(), "negative size");
  EXPECT_EQ(r.traceback(), "  at Resize\n");
  EXPECT_FALSE(r.has_cause());
  EXPECT_EQ(Ser(r), rec);
  const std::string cause = Ser(Record(rpc::TASK_ERROR, rpc::PYTHON, "ValueError", "bad"));
  const rpc::ErrorRecord chained = Parse(internal::MakeCppErrorRecord("E", "m", "", cause));
  EXPECT_EQ(chained.cause().type_name(), "ValueError");
  EXPECT_EQ(chained.cause().language(), rpc::PYTHON);
  EXPECT_FALSE(Parse(internal::MakeCppErrorRecord("E", "m", "", "\xff\xff")).has_cause());
}

TEST(CodecErrors, CppTaskErrorsAreTaskExceptions) {
  const std::string rec = Ser(Record(rpc::TASK_ERROR, rpc::CPP, "std::invalid_argument",
                                     "negative size", "std::invalid_argument: negative size\n  at Resize\n"));
  try {
    internal::ThrowErrorRecord(rec);
  } catch (const CrossLanguageException&) {
    FAIL() << "an all-C++ error is not cross-language";
  } catch (const TaskException& e) {
    EXPECT_EQ(e.language(), Language::kCpp);
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_EQ(e.message(), "negative size");
    EXPECT_EQ(e.remote_traceback(), "std::invalid_argument: negative size\n  at Resize\n");
    EXPECT_EQ(e.record(), rec);
    EXPECT_EQ(e.cause(), nullptr);
    EXPECT_EQ(std::string(e.what()),
              "[CPP] std::invalid_argument: negative size\n\nRemote traceback:\n"
              "[CPP] std::invalid_argument: negative size\nstd::invalid_argument: negative size\n  at Resize");
  }
}

TEST(CodecErrors, ChainsAcrossLanguagesKeepEveryHop) {
  rpc::ErrorRecord cpp = Record(rpc::TASK_ERROR, rpc::CPP, "std::invalid_argument", "negative size",
                                "  at Resize (resize.cc:7)\n");
  rpc::ErrorRecord py = Record(rpc::TASK_ERROR, rpc::PYTHON, "ValueError", "resize failed",
                               "Traceback (most recent call last):\nValueError: resize failed\n");
  *py.mutable_cause() = cpp;
  rpc::ErrorRecord java = Record(rpc::TASK_ERROR, rpc::JAVA, "java.lang.IllegalStateException",
                                 "cannot grow", "\tat io.example.Shapes.grow(Shapes.java:12)\n");
  *java.mutable_cause() = py;
  const std::string rec = Ser(java);
  try {
    internal::ThrowErrorRecord(rec);
    FAIL();
  } catch (const CrossLanguageException& e) {
    EXPECT_EQ(e.language(), Language::kJava);
    EXPECT_EQ(e.type_name(), "java.lang.IllegalStateException");
    EXPECT_EQ(e.record(), rec);
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("[JAVA] java.lang.IllegalStateException: cannot grow\n\nRemote traceback:\n", 0), 0u);
    EXPECT_NE(what.find("Caused by:\n[PYTHON] ValueError: resize failed"), std::string::npos) << what;
    EXPECT_NE(what.find("Caused by:\n[CPP] std::invalid_argument: negative size\n  at Resize"),
              std::string::npos);
    auto c1 = std::dynamic_pointer_cast<const CrossLanguageException>(e.cause());
    ASSERT_NE(c1, nullptr);
    EXPECT_EQ(c1->language(), Language::kPython);
    EXPECT_EQ(c1->record(), Ser(py));
    auto c2 = std::dynamic_pointer_cast<const TaskException>(c1->cause());
    ASSERT_NE(c2, nullptr);
    EXPECT_EQ(std::dynamic_pointer_cast<const CrossLanguageException>(c1->cause()), nullptr);
    EXPECT_EQ(c2->type_name(), "std::invalid_argument");
    EXPECT_EQ(c2->record(), Ser(cpp));
    EXPECT_EQ(c2->cause(), nullptr);
  }
  // A C++ hop over a Python cause crossed languages too.
  rpc::ErrorRecord outer = Record(rpc::TASK_ERROR, rpc::CPP, "std::runtime_error", "wrapped");
  *outer.mutable_cause() = py;
  EXPECT_THROW(internal::ThrowErrorRecord(Ser(outer)), CrossLanguageException);
}

template <typename E>
void ExpectKind(rpc::ErrorKind kind) {
  rpc::ErrorRecord r = Record(kind, rpc::PYTHON, "X", "it failed");
  *r.mutable_cause() = Record(rpc::TASK_ERROR, rpc::JAVA, "java.lang.Error", "root");
  const std::string rec = Ser(r);
  try {
    internal::ThrowErrorRecord(rec);
    ADD_FAILURE() << "kind " << kind << " did not throw";
  } catch (const E& e) {
    EXPECT_EQ(e.record(), rec);
    EXPECT_NE(std::string(e.what()).find("it failed"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("Caused by:\n[JAVA] java.lang.Error: root"), std::string::npos);
    EXPECT_EQ(dynamic_cast<const TaskException*>(&e), nullptr) << "kind " << kind;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "kind " << kind << " threw " << internal::DemangledTypeName(e);
  }
}

TEST(CodecErrors, SystemKindsMapToTheirTypes) {
  ExpectKind<WorkerCrashedError>(rpc::WORKER_CRASHED);
  ExpectKind<ActorDiedError>(rpc::ACTOR_DIED);
  ExpectKind<ObjectLostError>(rpc::OBJECT_LOST);
  ExpectKind<TaskCancelledError>(rpc::TASK_CANCELLED);
  ExpectKind<NodeDiedError>(rpc::NODE_DIED);
  ExpectKind<ObjectStoreFullError>(rpc::OBJECT_STORE_FULL);
  ExpectKind<GetTimeoutError>(rpc::GET_TIMEOUT);
  ExpectKind<Error>(rpc::RUNTIME_ERROR);
  EXPECT_THROW(internal::ThrowErrorRecord("\xff\xff\xff"), Error);
}

TEST(CodecErrors, ErrorValuesThrowOnDecode) {
  internal::ValueView v;
  v.format = Format::kError;
  const std::string rec = Ser(Record(rpc::NODE_DIED, rpc::PYTHON, "NodeDiedError", "node gone"));
  v.body = rec;
  EXPECT_THROW(internal::Decode<int>(v, "v"), NodeDiedError);
  EXPECT_THROW(internal::Decode<XValue>(v, "v"), NodeDiedError);
}

TEST(CodecErrors, RecordsOfEscapingExceptions) {
  try {
    throw app::QuotaExceeded("over quota");
  } catch (const std::exception& e) {
    EXPECT_EQ(internal::DemangledTypeName(e), "app::QuotaExceeded");
    const rpc::ErrorRecord r = Parse(internal::ErrorRecordOfException(e, "  at Charge\n"));
    EXPECT_EQ(r.kind(), rpc::TASK_ERROR);
    EXPECT_EQ(r.type_name(), "app::QuotaExceeded");
    EXPECT_EQ(r.message(), "over quota");
    EXPECT_EQ(r.traceback(), "  at Charge\n");
    EXPECT_EQ(r.language(), rpc::CPP);
  }
  // A remote error re-thrown by a C++ task: same kind/type/message, this hop
  // in C++, the original record as the cause.
  const rpc::ErrorRecord crashed = Record(rpc::WORKER_CRASHED, rpc::PYTHON, "WorkerCrashedError", "died");
  try {
    internal::ThrowErrorRecord(Ser(crashed));
  } catch (const std::exception& e) {
    const rpc::ErrorRecord r = Parse(internal::ErrorRecordOfException(e, "  at Caller\n"));
    EXPECT_EQ(r.kind(), rpc::WORKER_CRASHED);
    EXPECT_EQ(r.type_name(), "WorkerCrashedError");
    EXPECT_EQ(r.message(), "died");
    EXPECT_EQ(r.language(), rpc::CPP);
    EXPECT_EQ(r.traceback(), "  at Caller\n");
    EXPECT_EQ(Ser(r.cause()), Ser(crashed));
  }
  const rpc::ErrorRecord rt = Parse(internal::MakeRuntimeErrorRecord("polyray::TypeError", "bad arg"));
  EXPECT_EQ(rt.kind(), rpc::RUNTIME_ERROR);
  EXPECT_EQ(rt.language(), rpc::CPP);
  EXPECT_EQ(internal::Demangle(typeid(std::vector<int>).name()), "std::vector<int, std::allocator<int> >");
  EXPECT_EQ(internal::Demangle("not a mangled name"), "not a mangled name");
}

}  // namespace
}  // namespace polyray

// POLYRAY_REMOTE and the registry, in-process: stable names, kinds, argument
// count and type errors, decode/encode through a registered entry called
// with hand-built ValueViews, duplicates, and the caller-side checks of
// Task()/Actor()/Remote() that need no runtime.
//
// Invariants: no runtime is started; each test case runs in its own process
// (gtest_discover_tests), so registrations made by a test do not leak.
#include <gtest/gtest.h>
#include <polyray/api.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "codec_test_util.h"

namespace {

using polyray::internal::Encoded;
using polyray::internal::EntryKind;
using polyray::internal::InvocationError;
using polyray::internal::Registry;
using polyray::internal::RegisteredEntry;
using polyray::internal::ValueView;
using polyray::testutil::ViewOf;

int Twice(int x) { return 2 * x; }
std::string Join(const std::vector<std::string>& parts, std::string separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}
void DoNothing() {}
int Unregistered(int x) { return x; }
int Throws(int) { throw std::out_of_range("too far"); }

class Account {
 public:
  static Account* Open(int64_t balance) { return new Account(balance); }
  explicit Account(int64_t balance) : balance_(balance) { ++alive; }
  ~Account() { --alive; }
  int64_t Deposit(int64_t amount) { return balance_ += amount; }
  int64_t Balance() const { return balance_; }
  static int alive;

 private:
  int64_t balance_;
};
int Account::alive = 0;

Account* OpenFree(int64_t balance) { return new Account(balance); }
Account* OpenNull() { return nullptr; }

}  // namespace

POLYRAY_REMOTE(Twice, Join, DoNothing, Throws);
POLYRAY_REMOTE(Account::Open, &Account::Deposit, &Account::Balance, OpenFree, OpenNull);
// The same callable again under the same name: not a duplicate.
POLYRAY_REMOTE(Twice);

namespace {

/// Calls `entry` with already encoded arguments.
Encoded Call(const RegisteredEntry& entry, const std::vector<Encoded>& args, void* self = nullptr) {
  std::vector<ValueView> views;
  for (const Encoded& e : args) views.push_back(ViewOf(e));
  return entry.invoke(self, views);
}

template <typename T>
T DecodeResult(const Encoded& e) {
  return polyray::internal::Decode<T>(ViewOf(e), "result");
}

const RegisteredEntry& Find(const std::string& name) {
  const RegisteredEntry* entry = Registry::Instance().Find(name);
  if (entry == nullptr) throw std::runtime_error("not registered: " + name);
  return *entry;
}

TEST(ApiRegistry, NamesAreAsWrittenWithoutAmpersand) {
  std::vector<std::string> names = Registry::Instance().Names();
  for (const char* expected : {"Twice", "Join", "DoNothing", "Throws", "Account::Open",
                               "Account::Deposit", "Account::Balance", "OpenFree", "OpenNull"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  EXPECT_TRUE(Registry::Instance().Problems().empty());
}

TEST(ApiRegistry, KindsArityAndClassNames) {
  EXPECT_EQ(Find("Twice").kind, EntryKind::kFunction);
  EXPECT_EQ(Find("Twice").arity, 1u);
  EXPECT_EQ(Find("Join").arity, 2u);
  const RegisteredEntry& open = Find("Account::Open");
  EXPECT_EQ(open.kind, EntryKind::kFactory);
  EXPECT_EQ(open.class_name, "Account");
  EXPECT_EQ(*open.class_type, typeid(Account));
  // A free factory takes the class name from the type.
  EXPECT_EQ(Find("OpenFree").kind, EntryKind::kFactory);
  EXPECT_NE(Find("OpenFree").class_name.find("Account"), std::string::npos);
  const RegisteredEntry& deposit = Find("Account::Deposit");
  EXPECT_EQ(deposit.kind, EntryKind::kMethod);
  EXPECT_EQ(deposit.class_name, "Account");
  EXPECT_EQ(Find("Account::Balance").kind, EntryKind::kMethod);
  // The registering file is the test program itself.
  EXPECT_FALSE(Find("Twice").library.empty());
}

TEST(ApiRegistry, SplitRemoteNames) {
  using polyray::internal::SplitRemoteNames;
  EXPECT_EQ(SplitRemoteNames("Plus1, Counter::Create, &Counter::Add"),
            (std::vector<std::string>{"Plus1", "Counter::Create", "Counter::Add"}));
  EXPECT_EQ(SplitRemoteNames(" ns::Sum<int, 2> ,& C::M "),
            (std::vector<std::string>{"ns::Sum<int, 2>", "C::M"}));
  EXPECT_EQ(polyray::internal::ClassPartOf("ns::Counter::Add"), "ns::Counter");
  EXPECT_EQ(polyray::internal::ClassPartOf("Plus1"), "");
}

TEST(ApiRegistry, EntryDecodesCallsAndEncodes) {
  using polyray::internal::Encode;
  Encoded result = Call(Find("Twice"), {Encode<int64_t>(21)});
  EXPECT_EQ(DecodeResult<int>(result), 42);
  result = Call(Find("Join"), {Encode(std::vector<std::string>{"a", "b"}), Encode(std::string("-"))});
  EXPECT_EQ(DecodeResult<std::string>(result), "a-b");
}

TEST(ApiRegistry, VoidResultIsNil) {
  Encoded result = Call(Find("DoNothing"), {});
  EXPECT_EQ(result.body, polyray::internal::Encode<std::nullptr_t>(nullptr).body);
}

TEST(ApiRegistry, WrongArgumentCountNamesFunctionAndCounts) {
  using polyray::internal::Encode;
  try {
    Call(Find("Join"), {Encode(std::string("x"))});
    FAIL() << "expected InvocationError";
  } catch (const InvocationError& e) {
    EXPECT_STREQ(e.what(), "Join takes 2 arguments but 1 was given");
  }
  try {
    Call(Find("DoNothing"), {Encode<int64_t>(1), Encode<int64_t>(2)});
    FAIL() << "expected InvocationError";
  } catch (const InvocationError& e) {
    EXPECT_STREQ(e.what(), "DoNothing takes 0 arguments but 2 were given");
  }
}

TEST(ApiRegistry, WrongArgumentTypeNamesArgumentAndFunction) {
  try {
    Call(Find("Twice"), {polyray::internal::Encode(std::string("seven"))});
    FAIL() << "expected InvocationError";
  } catch (const InvocationError& e) {
    EXPECT_NE(std::string(e.what()).find("argument 0 of Twice"), std::string::npos) << e.what();
  }
}

TEST(ApiRegistry, CalleeExceptionsPassUnchanged) {
  EXPECT_THROW(Call(Find("Throws"), {polyray::internal::Encode<int64_t>(1)}), std::out_of_range);
}

TEST(ApiRegistry, FactoryCreatesAndMethodsRunOnTheInstance) {
  using polyray::internal::Encode;
  Encoded start = Encode<int64_t>(10);
  std::shared_ptr<void> instance = Find("Account::Open").create({ViewOf(start)});
  ASSERT_NE(instance, nullptr);
  EXPECT_EQ(Account::alive, 1);
  EXPECT_EQ(DecodeResult<int64_t>(Call(Find("Account::Deposit"), {Encode<int64_t>(5)}, instance.get())), 15);
  EXPECT_EQ(DecodeResult<int64_t>(Call(Find("Account::Balance"), {}, instance.get())), 15);
  instance.reset();
  EXPECT_EQ(Account::alive, 0);  // deleted as an Account
}

TEST(ApiRegistry, FactoryReturningNullIsAnInvocationError) {
  EXPECT_THROW(Find("OpenNull").create({}), InvocationError);
}

int First(int x) { return x; }
int Second(int x) { return -x; }

TEST(ApiRegistry, DuplicateNameIsReportedWithBothLibraries) {
  // As if two libraries registered different functions as "Dup".
  static int other_site = 0;
  Registry::Instance().Add(polyray::internal::MakeEntry("Dup", First),
                           polyray::internal::CallableKey(First), &Account::alive);
  Registry::Instance().Add(polyray::internal::MakeEntry("Dup", Second),
                           polyray::internal::CallableKey(Second), &other_site);
  std::vector<std::string> problems = Registry::Instance().Problems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("Dup"), std::string::npos) << problems[0];
  try {
    Registry::Instance().Find("Dup");
    FAIL() << "expected InvocationError";
  } catch (const InvocationError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("the name Dup"), std::string::npos) << what;
    EXPECT_NE(what.find(Find("Join").library + " and "), std::string::npos) << what;
  }
  // Task(f) of the first registration fails too: the name is ambiguous.
  EXPECT_THROW(polyray::Task(First), polyray::Error);
}

TEST(ApiRegistry, TaskOfAnUnregisteredFunctionIsAClearError) {
  try {
    polyray::Task(Unregistered);
    FAIL() << "expected polyray::Error";
  } catch (const polyray::Error& e) {
    EXPECT_NE(std::string(e.what()).find("not registered"), std::string::npos) << e.what();
  }
}

TEST(ApiRegistry, CallersResolveRegisteredNames) {
  EXPECT_EQ(polyray::Task(Twice).name(), "Twice");
  EXPECT_EQ(polyray::internal::RegisteredEntryOf(&Account::Deposit, "test").name, "Account::Deposit");
  EXPECT_EQ(polyray::internal::RegisteredEntryOf(OpenFree, "test").name, "OpenFree");
}

TEST(ApiRegistry, RemoteEncodesBeforeNeedingARuntime) {
  ASSERT_FALSE(polyray::IsInitialized());
  // A string that is not UTF-8 has no XLANG form: TypeError, nothing sent.
  EXPECT_THROW(polyray::Task(Join).Remote(std::vector<std::string>{"\xff"}, "-"), polyray::TypeError);
  EXPECT_THROW(polyray::Task(polyray::PyFunction<int64_t>{"m", "f"}).Remote(std::string("\xfe")),
               polyray::TypeError);
  // A good call gets as far as the runtime, which is missing.
  try {
    polyray::Task(Twice).Remote(1);
    FAIL() << "expected polyray::Error";
  } catch (const polyray::TypeError& e) {
    FAIL() << e.what();
  } catch (const polyray::Error& e) {
    EXPECT_NE(std::string(e.what()).find("Init"), std::string::npos) << e.what();
  }
}

TEST(ApiRegistry, EmptyObjectRefArgumentIsAnError) {
  EXPECT_THROW(polyray::Task(Twice).Remote(polyray::ObjectRef<int>()), polyray::Error);
}

}  // namespace

// End to end through real processes: Init() starts an embedded head node
// (GCS + raylet from the checkout's .venv), tasks run in real Python workers
// and in real polyray_cpp_worker processes that dlopen testlibs/ok. The
// functions of api_test_functions.cc are compiled into this program too, so
// Task(Plus1) finds their names here (as a driver linking its library does).
//
// Invariants: every test case Init()s its own job and Shutdown()s it; each
// runs in its own process (gtest_discover_tests).
#include <gtest/gtest.h>
#include <polyray/api.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "api_test_functions.h"

namespace {

const std::string kLibs = std::string(POLYRAY_BINARY_DIR) + "/testlibs";

class ApiE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    // The checkout's Python (with polyray installed) runs the head node and
    // the Python workers, unless the environment names another one.
    const std::string venv_python = std::string(POLYRAY_SOURCE_DIR) + "/.venv/bin/python";
    if (::access(venv_python.c_str(), X_OK) == 0) ::setenv("POLYRAY_PYTHON", venv_python.c_str(), 0);
    polyray::Config config;
    config.code_search_path = {kLibs + "/ok"};
    polyray::Init(config);
  }
  void TearDown() override { polyray::Shutdown(); }
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// The session folder of this process's embedded head: the folder of the
/// `--address-file` argument of a child process (read from /proc), or "".
std::string EmbeddedHeadFolder() {
  namespace fs = std::filesystem;
  const std::string parent = " " + std::to_string(::getpid()) + " ";
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;  // not a process
    std::ifstream stat_file(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    // "pid (comm) state ppid ...": the ppid follows the state after ") ".
    size_t close = stat.rfind(')');
    if (close == std::string::npos || stat.compare(close + 3, parent.size(), parent) != 0) continue;
    std::ifstream cmdline_file(entry.path() / "cmdline");
    std::vector<std::string> args;
    for (std::string arg; std::getline(cmdline_file, arg, '\0');) args.push_back(arg);
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--address-file") return fs::path(args[i + 1]).parent_path().string();
    }
  }
  return "";
}

TEST_F(ApiE2e, CallsPythonAndCppFunctions) {
  using polyray::Get;
  using polyray::Task;
  EXPECT_TRUE(polyray::IsInitialized());
  EXPECT_EQ(*Get(Task(polyray::PyFunction<int64_t>{"operator", "add"}).Remote(1, 2)), 3);
  EXPECT_EQ(*Get(Task(Plus1).Remote(41)), 42);
  EXPECT_EQ(*Get(Task(Greet).Remote("polyray")), "hello polyray");
  EXPECT_EQ(*Get(Task(polyray::CppFunction<int>{"Plus1"}).Remote(1)), 2);
  // ObjectRefs as arguments: the callee gets the value.
  polyray::ObjectRef<int> two = Task(Plus1).Remote(1);
  EXPECT_EQ(*Get(Task(Plus1).Remote(two)), 3);
  polyray::ObjectRef<int> put = polyray::Put(10);
  EXPECT_EQ(*Get(put), 10);
  EXPECT_EQ(*Get(Task(polyray::PyFunction<int64_t>{"operator", "mul"}).Remote(put, 3)), 30);
  // A C++ task calling Python.
  EXPECT_EQ(*Get(Task(AddOneInPython).Remote(int64_t{5})), 6);
  // Several at once; Wait.
  std::vector<polyray::ObjectRef<int>> refs;
  for (int i = 0; i < 5; ++i) refs.push_back(Task(Plus1).Remote(i));
  polyray::WaitResult<int> waited = polyray::Wait(refs, 5, 30000);
  EXPECT_EQ(waited.ready.size(), 5u);
  std::vector<std::shared_ptr<int>> values = Get(refs);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(*values[i], i + 1);
}

TEST_F(ApiE2e, ActorsAndNamedActors) {
  using polyray::Get;
  polyray::ActorHandle<Counter> counter =
      polyray::Actor(Counter::Create).SetName("api-e2e-counter").Remote(10);
  EXPECT_EQ(*Get(counter.Task(&Counter::Add).Remote(5)), 15);
  EXPECT_EQ(*Get(counter.Task(&Counter::Get).Remote()), 15);
  polyray::ActorHandle<Counter> found = polyray::GetActor<Counter>("api-e2e-counter");
  EXPECT_EQ(found.Id(), counter.Id());
  EXPECT_EQ(*Get(found.Task(&Counter::Add).Remote(1)), 16);
  polyray::ActorHandleXlang by_name = polyray::GetActorXlang("api-e2e-counter");
  EXPECT_EQ(*Get(by_name.Task(polyray::CppActorMethod<int>{"Counter::Get"}).Remote()), 16);
  polyray::Kill(counter);
  EXPECT_THROW(Get(counter.Task(&Counter::Get).Remote(), 30000), polyray::ActorDiedError);
}

TEST_F(ApiE2e, PythonActor) {
  using polyray::Get;
  polyray::ActorHandleXlang list = polyray::Actor(polyray::PyActorClass{"collections", "Counter"}).Remote();
  Get(list.Task(polyray::PyActorMethod<std::nullptr_t>{"update"}).Remote(std::string("abca")));
  EXPECT_EQ(*Get(list.Task(polyray::PyActorMethod<int64_t>{"total"}).Remote()), 4);
  EXPECT_THROW(list.Task(polyray::JavaActorMethod<int64_t>{"total"}), polyray::Error);
}

TEST_F(ApiE2e, JavaFunctionAndActor) {
  using polyray::Get;
  EXPECT_EQ(*Get(polyray::Task(polyray::JavaFunction<int64_t>{"java.lang.Long", "sum"})
                     .Remote(int64_t{40}, int64_t{2})),
            42);
  polyray::ActorHandleXlang list = polyray::Actor(polyray::JavaActorClass{"java.util.ArrayList"}).Remote();
  EXPECT_TRUE(*Get(list.Task(polyray::JavaActorMethod<bool>{"add"}).Remote("x")));
  EXPECT_EQ(*Get(list.Task(polyray::JavaActorMethod<int64_t>{"size"}).Remote()), 1);
}

TEST_F(ApiE2e, ErrorsReachTheCaller) {
  using polyray::Get;
  using polyray::Task;
  try {
    Get(Task(Fail).Remote("bad input"));
    FAIL() << "expected TaskException";
  } catch (const polyray::CrossLanguageException& e) {
    FAIL() << "a C++ error is not cross-language: " << e.what();
  } catch (const polyray::TaskException& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_EQ(e.message(), "bad input");
    EXPECT_EQ(e.language(), polyray::Language::kCpp);
  }
  try {
    Get(Task(FailNested).Remote("deep"));
    FAIL() << "expected TaskException";
  } catch (const polyray::TaskException& e) {
    ASSERT_NE(e.cause(), nullptr) << e.what();
    EXPECT_TRUE(Contains(e.what(), "deep")) << e.what();
  }
  try {
    Get(Task(polyray::PyFunction<double>{"operator", "truediv"}).Remote(1, 0));
    FAIL() << "expected CrossLanguageException";
  } catch (const polyray::CrossLanguageException& e) {
    EXPECT_EQ(e.type_name(), "ZeroDivisionError");
    EXPECT_EQ(e.language(), polyray::Language::kPython);
  }
  try {
    Get(Task(polyray::CppFunction<int>{"NoSuchFunction"}).Remote(1));
    FAIL() << "expected TaskException";
  } catch (const polyray::Error& e) {
    EXPECT_TRUE(Contains(e.what(), "NoSuchFunction")) << e.what();
    EXPECT_TRUE(Contains(e.what(), kLibs + "/ok")) << e.what();
  }
  try {
    Get(Task(polyray::CppFunction<int>{"Plus1"}).Remote(1, 2));
    FAIL() << "expected TaskException";
  } catch (const polyray::Error& e) {
    EXPECT_TRUE(Contains(e.what(), "Plus1 takes 1 argument but 2 were given")) << e.what();
  }
  // The worker stayed up.
  EXPECT_EQ(*Get(Task(Plus1).Remote(1)), 2);
}

TEST_F(ApiE2e, FactoryThatThrowsGivesActorDiedError) {
  polyray::ActorHandle<Counter> broken = polyray::Actor(Counter::CreateBroken).Remote(7);
  try {
    polyray::Get(broken.Task(&Counter::Get).Remote(), 30000);
    FAIL() << "expected ActorDiedError";
  } catch (const polyray::ActorDiedError& e) {
    EXPECT_TRUE(Contains(e.what(), "cannot create a counter at 7")) << e.what();
  }
}

TEST_F(ApiE2e, CrashedWorkerGivesWorkerCrashedErrorAndRetries) {
  EXPECT_THROW(polyray::Get(polyray::Task(Crash).SetMaxRetries(0).Remote(1), 60000),
               polyray::WorkerCrashedError);
  char marker[] = "/tmp/polyray-api-e2e-XXXXXX";
  ASSERT_NE(::mkdtemp(marker), nullptr);
  const std::string path = std::string(marker) + "/crashed";
  EXPECT_EQ(*polyray::Get(polyray::Task(CrashOnce).SetMaxRetries(1).Remote(path), 60000), 1);
  ::unlink(path.c_str());
  ::rmdir(marker);
  // Other tasks still run.
  EXPECT_EQ(*polyray::Get(polyray::Task(Plus1).Remote(1)), 2);
}

TEST_F(ApiE2e, ThreadedActorRunsUpToMaxConcurrencyCallsAtOnce) {
  // Four calls meet at a barrier of four: only possible when they run at the
  // same time (one at a time, the first would wait out its 60 s and fail).
  polyray::ActorHandle<Gate> gate = polyray::Actor(Gate::Create).SetMaxConcurrency(4).Remote(4);
  std::vector<polyray::ObjectRef<bool>> arrivals;
  for (int i = 0; i < 4; ++i) arrivals.push_back(gate.Task(&Gate::Arrive).Remote(60'000));
  for (const auto& ok : polyray::Get(arrivals, 90'000)) EXPECT_TRUE(*ok);
  // More calls than threads: never more than four inside at once.
  for (int i = 0; i < 8; ++i) arrivals.push_back(gate.Task(&Gate::Arrive).Remote(60'000));
  for (const auto& ok : polyray::Get(arrivals, 90'000)) EXPECT_TRUE(*ok);
  EXPECT_EQ(*polyray::Get(gate.Task(&Gate::MaxInside).Remote()), 4);
  // A threaded actor dies like any other.
  polyray::Kill(gate);
  EXPECT_THROW(polyray::Get(gate.Task(&Gate::MaxInside).Remote(), 30'000), polyray::ActorDiedError);
}

TEST_F(ApiE2e, ActorWithoutMaxConcurrencyRunsOneCallAtATime) {
  // A barrier of two never fills: the second call starts only after the
  // first has given up (so the first fails and the second then passes).
  polyray::ActorHandle<Gate> gate = polyray::Actor(Gate::Create).Remote(2);
  polyray::ObjectRef<bool> first = gate.Task(&Gate::Arrive).Remote(300);
  polyray::ObjectRef<bool> second = gate.Task(&Gate::Arrive).Remote(60'000);
  EXPECT_FALSE(*polyray::Get(first, 60'000));
  EXPECT_TRUE(*polyray::Get(second, 60'000));
  EXPECT_EQ(*polyray::Get(gate.Task(&Gate::MaxInside).Remote()), 1);
}

TEST_F(ApiE2e, ShutdownLeavesNoHeadFolderBehind) {
  const std::string folder = EmbeddedHeadFolder();
  ASSERT_EQ(folder.rfind("/tmp/polyray-cpp-", 0), 0u) << "no embedded head found: " << folder;
  EXPECT_TRUE(std::filesystem::exists(folder + "/head.log"));
  polyray::Shutdown();
  EXPECT_FALSE(std::filesystem::exists(folder)) << folder << " is left behind";
}

TEST_F(ApiE2e, TimeoutsAndWait) {
  polyray::ObjectRef<std::nullptr_t> slow =
      polyray::Task(polyray::PyFunction<std::nullptr_t>{"time", "sleep"}).Remote(3.0);
  EXPECT_THROW(polyray::Get(slow, 100), polyray::GetTimeoutError);
  polyray::WaitResult<std::nullptr_t> waited = polyray::Wait(std::vector{slow}, 1, 100);
  EXPECT_EQ(waited.ready.size(), 0u);
  EXPECT_EQ(waited.unready.size(), 1u);
}

// As Ray: a task asking for 0 CPUs needs none, so it runs while an actor holds
// every CPU of the node (the embedded head has one per core).
TEST_F(ApiE2e, ZeroCpuTaskRunsWhileAnActorHoldsEveryCpu) {
  const double cpus = static_cast<double>(std::thread::hardware_concurrency());
  polyray::ActorHandle<Counter> holder = polyray::Actor(Counter::Create).SetResource("CPU", cpus).Remote(1);
  EXPECT_EQ(*polyray::Get(holder.Task(&Counter::Add).Remote(1), 30000), 2);
  EXPECT_EQ(*polyray::Get(polyray::Task(Plus1).SetResource("CPU", 0).Remote(1), 30000), 2);
  polyray::Kill(holder);
}

}  // namespace

// Declarations of the user code in api_test_functions.cc (the test library
// testlibs/ok), for the test programs that call it as a driver.
//
// Invariants: this is the only definition of class Counter, Other and Gate
// in the test programs (one definition rule).
#ifndef POLYRAY_TESTS_API_TEST_FUNCTIONS_H_
#define POLYRAY_TESTS_API_TEST_FUNCTIONS_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

/// x + 1.
int Plus1(int x);
/// "hello " + name.
std::string Greet(const std::string& name);
/// Returns nothing (the caller gets nil).
void Nothing();
/// The sum of xs.
int64_t Sum(std::vector<int64_t> xs);
/// Throws std::invalid_argument(message).
int Fail(std::string message);
/// Calls Python's operator.add(x, 1) from inside a C++ task.
int64_t AddOneInPython(int64_t x);
/// Calls Fail remotely and lets its error escape (a chain of two hops).
int FailNested(std::string message);

/// Kills its worker with SIGSEGV.
int Crash(int x);
/// Kills its worker with SIGSEGV the first time (when `marker` does not
/// exist yet, creating it); returns 1 on the next attempt.
int CrashOnce(std::string marker);

/// An actor: a counter.
class Counter {
 public:
  explicit Counter(int start) : value_(start) {}
  /// The factory registered as "Counter::Create".
  static Counter* Create(int start);
  /// A factory that throws (its actor dies at creation).
  static Counter* CreateBroken(int start);
  /// Adds n, returns the new value.
  int Add(int n);
  /// The current value.
  int Get() const;
  /// Throws std::logic_error.
  int Boom();

 private:
  int value_;
};

/// A second actor class, to check that a method runs only on its own class.
class Other {
 public:
  /// The factory registered as "Other::Create".
  static Other* Create();
  /// Returns 7.
  int Seven();
};

/// A thread-safe actor for max_concurrency: a barrier of `parties` calls.
class Gate {
 public:
  explicit Gate(int parties) : parties_(parties) {}
  /// The factory registered as "Gate::Create".
  static Gate* Create(int parties);
  /// Arrives and waits until `parties` calls have arrived (in all, ever) or
  /// `timeout_ms` passed; returns whether the barrier was reached in time.
  /// Calls that run one at a time never reach a barrier of two or more
  /// before the first one's timeout.
  bool Arrive(int timeout_ms);
  /// The most calls that were inside Arrive at the same time.
  int MaxInside() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int parties_;
  int arrived_ = 0;
  int inside_ = 0;
  int max_inside_ = 0;
};

#endif  // POLYRAY_TESTS_API_TEST_FUNCTIONS_H_

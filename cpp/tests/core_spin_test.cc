// The spin of a C++ worker's idle threads (src/core/spin.h): POLYRAY_SPIN_US
// parsing, the process's SpinTime and SpinUntil. The threads that spin are
// exercised by core_push_port_test (a worker with the spin on, off, and a
// bad value).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/spin.h"

namespace polyray::core {
namespace {

/// The message ParseSpinUs(raw) throws, or "" when it does not.
std::string ParseError(const char* raw) {
  try {
    ParseSpinUs(raw);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(SpinTest, UnsetOrEmptyIsTheDefault) {
  EXPECT_EQ(kDefaultSpinUs, 300);
  EXPECT_EQ(ParseSpinUs(nullptr), 300);
  EXPECT_EQ(ParseSpinUs(""), 300);
}

TEST(SpinTest, WholeMicroseconds) {
  EXPECT_EQ(ParseSpinUs("0"), 0);
  EXPECT_EQ(ParseSpinUs("150"), 150);
  EXPECT_EQ(ParseSpinUs(" 150 "), 150);  // surrounding blanks, as the Python and Java workers allow
  EXPECT_EQ(ParseSpinUs("+20"), 20);
  EXPECT_EQ(ParseSpinUs("1000000"), 1000000);
}

TEST(SpinTest, NonNumericValuesAreRejectedNamingTheVariableAndTheValue) {
  for (const char* raw : {"fast", "1.5", "150us", "1e3", " ", "-", "0x10", "12a"}) {
    std::string message = ParseError(raw);
    EXPECT_NE(message.find("POLYRAY_SPIN_US"), std::string::npos) << "value '" << raw << "': " << message;
    EXPECT_NE(message.find(std::string("'") + raw + "'"), std::string::npos) << "value '" << raw << "': " << message;
    EXPECT_NE(message.find("whole number of microseconds"), std::string::npos) << message;
  }
}

TEST(SpinTest, NegativeValuesAreRejectedNamingTheVariableAndTheValue) {
  for (const char* raw : {"-5", "-1", "-99999999999999999999999"}) {
    std::string message = ParseError(raw);
    EXPECT_NE(message.find("POLYRAY_SPIN_US"), std::string::npos) << "value '" << raw << "': " << message;
    EXPECT_NE(message.find(raw), std::string::npos) << "value '" << raw << "': " << message;
    EXPECT_NE(message.find("negative"), std::string::npos) << message;
  }
  EXPECT_EQ(ParseSpinUs("-0"), 0);
}

TEST(SpinTest, ValuesTooLargeForNanosecondsAreRejected) {
  std::string message = ParseError("99999999999999999999");
  EXPECT_NE(message.find("POLYRAY_SPIN_US"), std::string::npos) << message;
  EXPECT_NE(message.find("99999999999999999999"), std::string::npos) << message;
  EXPECT_EQ(ParseSpinUs("9223372036854775"), 9223372036854775);  // INT64_MAX / 1000
  EXPECT_NE(ParseError("9223372036854776"), "");
}

// SpinTime parses the environment once, on its first successful call: this
// is the only test in the binary that calls it (ctest runs each test in its
// own process).
TEST(SpinTest, SpinTimeParsesTheEnvironmentOnce) {
  ASSERT_EQ(::setenv("POLYRAY_SPIN_US", "fast", 1), 0);
  try {
    SpinTime();
    ADD_FAILURE() << "a bad POLYRAY_SPIN_US did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("POLYRAY_SPIN_US"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fast"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SpinTime(), std::invalid_argument);  // still unset: the same error again
  ASSERT_EQ(::setenv("POLYRAY_SPIN_US", "150", 1), 0);
  EXPECT_EQ(SpinTime(), std::chrono::microseconds(150));
  ASSERT_EQ(::setenv("POLYRAY_SPIN_US", "0", 1), 0);
  EXPECT_EQ(SpinTime(), std::chrono::microseconds(150));  // kept
  ::unsetenv("POLYRAY_SPIN_US");
}

TEST(SpinTest, SpinUntilStopsWhenReadyOrWhenTheSpinIsOver) {
  using std::chrono::steady_clock;
  int polls = 0;
  EXPECT_FALSE(SpinUntil(std::chrono::nanoseconds(0), [&] { return ++polls > 0; }));
  EXPECT_EQ(polls, 0) << "a spin of 0 polls nothing";

  auto start = steady_clock::now();
  EXPECT_FALSE(SpinUntil(std::chrono::microseconds(2000), [] { return false; }));
  EXPECT_GE(steady_clock::now() - start, std::chrono::microseconds(2000));

  EXPECT_TRUE(SpinUntil(std::chrono::seconds(30), [&] { return ++polls >= 3; }));
  EXPECT_EQ(polls, 3);

  // Another thread makes it ready: the spinner sees it long before the spin ends.
  std::atomic<bool> ready{false};
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ready.store(true);
  });
  start = steady_clock::now();
  EXPECT_TRUE(SpinUntil(std::chrono::seconds(30), [&] { return ready.load(); }));
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(10));
  setter.join();
}

}  // namespace
}  // namespace polyray::core

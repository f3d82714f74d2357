// EmbeddedHead's session folder (/tmp/polyray-cpp-XXXXXX): a real head from
// the checkout's .venv is started and stopped, and a head that cannot start
// (an "interpreter" that exits at once) keeps its folder for its log.
//
// Invariants: every folder a test sees is gone when the test ends (the
// failed-start case removes the kept folder itself).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/embedded_head.h"
#include "polyray/exceptions.h"

namespace polyray::core {
namespace {

namespace fs = std::filesystem;

class EmbeddedHeadTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("POLYRAY_PYTHON", POLYRAY_SOURCE_DIR "/.venv/bin/python", 1); }
};

TEST_F(EmbeddedHeadTest, StopRemovesTheSessionFolder) {
  EmbeddedHead head = EmbeddedHead::Start();
  const std::string dir = head.session_dir();
  ASSERT_EQ(dir.rfind("/tmp/polyray-cpp-", 0), 0u) << dir;
  EXPECT_TRUE(fs::exists(dir + "/gcs_address"));
  EXPECT_TRUE(fs::exists(head.log_file()));
  EXPECT_FALSE(head.address().empty());
  head.Stop();
  EXPECT_FALSE(fs::exists(dir)) << dir << " is left behind";
  EXPECT_TRUE(head.session_dir().empty());
  head.Stop();  // idempotent
}

TEST_F(EmbeddedHeadTest, DestructorAndMoveRemoveTheSessionFolder) {
  std::string dir;
  {
    EmbeddedHead first = EmbeddedHead::Start();
    dir = first.session_dir();
    EmbeddedHead moved = std::move(first);
    EXPECT_TRUE(first.session_dir().empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(moved.session_dir(), dir);
    EXPECT_TRUE(fs::exists(dir));
  }
  EXPECT_FALSE(fs::exists(dir)) << dir << " is left behind";
}

TEST_F(EmbeddedHeadTest, AFailedStartKeepsTheLogAndSaysWhere) {
  setenv("POLYRAY_PYTHON", "/bin/false", 1);
  try {
    EmbeddedHead::Start(10'000);
    FAIL() << "a head run by /bin/false started";
  } catch (const polyray::Error& e) {
    const std::string what = e.what();
    const std::string marker = "its log is kept at ";
    size_t at = what.find(marker);
    ASSERT_NE(at, std::string::npos) << what;
    EXPECT_NE(what.find("exit code 1"), std::string::npos) << what;
    std::string log = what.substr(at + marker.size());
    log = log.substr(0, log.find(':'));
    ASSERT_EQ(log.rfind("/tmp/polyray-cpp-", 0), 0u) << log;
    EXPECT_TRUE(fs::exists(log)) << log;
    fs::remove_all(fs::path(log).parent_path());
  }
}

// The head of a C++ driver boots no standby Python workers (they serve Python
// drivers only; issue 19): /bin/echo as the interpreter prints the command
// line into the log, which the start error quotes.
TEST_F(EmbeddedHeadTest, TheHeadRunsWithoutPythonStandbys) {
  setenv("POLYRAY_PYTHON", "/bin/echo", 1);
  try {
    EmbeddedHead::Start(10'000);
    FAIL() << "a head run by /bin/echo started";
  } catch (const polyray::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("-m polyray.node --head"), std::string::npos) << what;
    EXPECT_NE(what.find("--no-prestart-standby"), std::string::npos) << what;
    const std::string marker = "its log is kept at ";
    size_t at = what.find(marker);
    ASSERT_NE(at, std::string::npos) << what;
    std::string log = what.substr(at + marker.size());
    log = log.substr(0, log.find(':'));
    ASSERT_EQ(log.rfind("/tmp/polyray-cpp-", 0), 0u) << log;
    fs::remove_all(fs::path(log).parent_path());
  }
}

}  // namespace
}  // namespace polyray::core

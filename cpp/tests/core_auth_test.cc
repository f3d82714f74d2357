// The token's resolution order and errors in C++, as python/polyray/protocol/auth.py
// resolves it (tests/protocol/test_protocol_auth.py has the same cases).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "core/auth.h"
#include "polyray/exceptions.h"

namespace polyray::core {
namespace {

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/polyray-auth-test-XXXXXX";
    home_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::system(("rm -rf " + home_).c_str()); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = home_ + "/" + name;
    ::mkdir((home_ + "/.polyray").c_str(), 0700);
    std::ofstream(path) << text;
    return path;
  }
  std::string ErrorOf(const std::map<std::string, std::string>& env) {
    try {
      ResolveAuthToken(env, home_);
    } catch (const polyray::Error& e) {
      return e.what();
    }
    return "";
  }
  std::string home_;
};

TEST_F(AuthTest, EnvComesFirstThenThePathThenTheDefaultFile) {
  std::string f = Write("t", " from-file \n");
  Write(".polyray/auth_token", "from-default\n");
  EXPECT_EQ(*ResolveAuthToken({{"POLYRAY_AUTH_TOKEN", "from-env"}, {"POLYRAY_AUTH_TOKEN_PATH", f}}, home_),
            "from-env");
  EXPECT_EQ(*ResolveAuthToken({{"POLYRAY_AUTH_TOKEN_PATH", f}}, home_), "from-file");
  EXPECT_EQ(*ResolveAuthToken({}, home_), "from-default");
}

TEST_F(AuthTest, AnEmptyOrMissingFileIsAnErrorNamingIt) {
  std::string empty = Write("empty", "\n");
  EXPECT_EQ(ErrorOf({{"POLYRAY_AUTH_TOKEN_PATH", empty}}), "the polyray auth token file " + empty + " is empty");
  EXPECT_EQ(ErrorOf({{"POLYRAY_AUTH_TOKEN_PATH", home_ + "/nope"}}),
            "cannot read the polyray auth token file " + home_ + "/nope: No such file or directory");
}

TEST_F(AuthTest, NoTokenAnywhereIsAnErrorSayingWhatToDo) {
  EXPECT_EQ(ErrorOf({}).rfind("no polyray auth token: set POLYRAY_AUTH_TOKEN", 0), 0u) << ErrorOf({});
}

TEST_F(AuthTest, DisabledNeedsNoTokenAndABadModeIsAnError) {
  EXPECT_FALSE(ResolveAuthToken({{"POLYRAY_AUTH_MODE", "DISABLED"}}, home_).has_value());
  EXPECT_EQ(ErrorOf({{"POLYRAY_AUTH_MODE", "off"}}), "POLYRAY_AUTH_MODE='off': expected 'token' or 'disabled'");
}

TEST(AuthCompare, ConstantTimeEqualsIsEquality) {
  EXPECT_TRUE(AuthEquals("Bearer abc", "Bearer abc"));
  EXPECT_FALSE(AuthEquals("Bearer abd", "Bearer abc"));
  EXPECT_FALSE(AuthEquals("Bearer ab", "Bearer abc"));
  EXPECT_FALSE(AuthEquals("Bearer abcd", "Bearer abc"));
  EXPECT_FALSE(AuthEquals("", "Bearer abc"));
}

TEST(AuthHello, CarriesThisProcesssToken) {
  // ctest sets POLYRAY_AUTH_TOKEN (cpp/tests/CMakeLists.txt).
  std::string frame = PushHelloFrame();
  ASSERT_GE(frame.size(), 4u);
  EXPECT_TRUE(PushHelloOk(frame.data() + 4, frame.size() - 4));
  EXPECT_FALSE(PushHelloOk("\xff", 1));
  EXPECT_FALSE(PushHelloOk("", 0));
}

}  // namespace
}  // namespace polyray::core

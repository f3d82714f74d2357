// Config::job_metadata and Config::default_actor_lifetime (Ray's JobConfig):
// Init checks them before it starts or connects to anything, and names the
// field at fault. (The fill of JobInfo and the default lifetime's effect are
// checked against a real cluster in tests/api/test_cpp_scheduling.py.)
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "polyray/api.h"
#include "polyray/internal/runtime.h"

namespace polyray {
namespace {

std::string InvalidMessage(const internal::DriverConfig& c) {
  try {
    internal::ValidateJobConfig(c);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(JobConfigTest, SoundConfigPasses) {
  internal::DriverConfig c;
  EXPECT_EQ(InvalidMessage(c), "");
  c.default_actor_lifetime = "detached";
  c.job_metadata = {{"team", "x"}, {"note", "caf\xc3\xa9"}, {"empty", ""}};
  EXPECT_EQ(InvalidMessage(c), "");
  c.default_actor_lifetime = "non_detached";
  EXPECT_EQ(InvalidMessage(c), "");
}

TEST(JobConfigTest, BadLifetimeIsNamed) {
  internal::DriverConfig c;
  c.default_actor_lifetime = "forever";
  std::string m = InvalidMessage(c);
  EXPECT_NE(m.find("default_actor_lifetime"), std::string::npos) << m;
  EXPECT_NE(m.find("forever"), std::string::npos) << m;
  c.default_actor_lifetime = "Detached";  // exact spelling only, as Python's
  EXPECT_NE(InvalidMessage(c).find("default_actor_lifetime"), std::string::npos);
}

TEST(JobConfigTest, BadMetadataIsNamed) {
  internal::DriverConfig c;
  c.job_metadata = {{"", "v"}};
  EXPECT_NE(InvalidMessage(c).find("job_metadata"), std::string::npos);
  c.job_metadata = {{"k", std::string("\xff\xfe", 2)}};  // not UTF-8: proto3 would drop it
  EXPECT_NE(InvalidMessage(c).find("job_metadata"), std::string::npos);
  c.job_metadata = {{"k", std::string("\xc3", 1)}};  // truncated sequence
  EXPECT_NE(InvalidMessage(c).find("job_metadata"), std::string::npos);
  c.job_metadata = {{std::string("\xed\xa0", 2), "v"}};
  EXPECT_NE(InvalidMessage(c).find("job_metadata"), std::string::npos);
}

TEST(JobConfigTest, InitRejectsBeforeStartingAnything) {
  Config c;
  c.address = "127.0.0.1:1";  // nothing listens: a check that ran later would fail differently
  c.default_actor_lifetime = "sometimes";
  try {
    Init(c);
    FAIL() << "Init accepted default_actor_lifetime=\"sometimes\"";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("default_actor_lifetime"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(IsInitialized());
}

}  // namespace
}  // namespace polyray

// Which cluster a C++ driver joins (cluster_address.h, the order of
// python/polyray/cluster_record.py) and the record `polyray start --head`
// writes: fake environment and liveness, a temporary folder for the record.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/cluster_address.h"
#include "polyray/exceptions.h"

namespace polyray::core {
namespace {

namespace fs = std::filesystem;

const std::string kWhere = "/nowhere/polyray/current_cluster";

std::optional<ClusterRecord> Never() {
  ADD_FAILURE() << "the record must not be read";
  return std::nullopt;
}

std::optional<ClusterRecord> Rec() { return ParseClusterRecord("gcs_address=10.0.0.5:6380\npid=42\n"); }
std::optional<ClusterRecord> None() { return std::nullopt; }

TEST(ClusterAddressTest, ExplicitWinsLocalIsEmbedded) {
  EXPECT_EQ(ResolveClusterAddress("1.2.3.4:5", "9.9.9.9:1", Never, kWhere), "1.2.3.4:5");
  EXPECT_EQ(ResolveClusterAddress("local", "9.9.9.9:1", Never, kWhere), "");
}

TEST(ClusterAddressTest, PlainInitUsesEnvironmentElseEmbeddedNeverTheRecord) {
  EXPECT_EQ(ResolveClusterAddress("", "9.9.9.9:1", Never, kWhere), "9.9.9.9:1");
  EXPECT_EQ(ResolveClusterAddress("", nullptr, Never, kWhere), "");
  EXPECT_EQ(ResolveClusterAddress("", "  ", Never, kWhere), "");
}

TEST(ClusterAddressTest, AutoTakesEnvironmentThenRecordElseSaysBoth) {
  EXPECT_EQ(ResolveClusterAddress("auto", "9.9.9.9:1", Never, kWhere), "9.9.9.9:1");
  EXPECT_EQ(ResolveClusterAddress("auto", nullptr, Rec, kWhere), "10.0.0.5:6380");
  try {
    ResolveClusterAddress("auto", nullptr, None, kWhere);
    FAIL() << "no error";
  } catch (const polyray::Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("POLYRAY_ADDRESS"), std::string::npos) << what;
    EXPECT_NE(what.find(kWhere), std::string::npos) << what;
  }
}

TEST(ClusterAddressTest, LiveRecordIsReadStaleOrGarbageIsRemoved) {
  fs::path dir = fs::temp_directory_path() / ("polyray-rec-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "current_cluster").string();
  std::ofstream(path) << "gcs_address=10.0.0.5:6380\ndashboard_url=http://x\nsession_dir=/s\npid=42\n";
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);  // whatever the umask
  auto r = ReadClusterRecord(path, [](int pid) { return pid == 42; });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->gcs_address, "10.0.0.5:6380");
  EXPECT_EQ(r->dashboard_url, "http://x");
  EXPECT_EQ(r->session_dir, "/s");
  EXPECT_FALSE(ReadClusterRecord(path, [](int) { return false; }).has_value());
  EXPECT_FALSE(fs::exists(path)) << "a dead owner's record is removed";
  std::ofstream(path, std::ios::binary) << std::string("\xff\x00pid=x\ngcs_address=nohost\n", 26);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_FALSE(ReadClusterRecord(path, [](int) { return true; }).has_value());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(ReadClusterRecord(path, [](int) { return true; }).has_value());
  fs::remove_all(dir);
}

TEST(ClusterAddressTest, RecordWritableByOthersIsNotFollowed) {
  fs::path dir = fs::temp_directory_path() / ("polyray-rec-w-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "current_cluster").string();
  std::ofstream(path) << "gcs_address=10.0.0.5:6380\npid=42\n";
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_write);
  EXPECT_FALSE(ReadClusterRecord(path, [](int) { return true; }).has_value());
  EXPECT_TRUE(fs::exists(path)) << "another's record is left alone";
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(ReadClusterRecord(path, [](int) { return true; }).has_value());
  fs::remove_all(dir);
}

TEST(ClusterAddressTest, ThisProcessIsNotANodeDaemon) {
  EXPECT_FALSE(IsNodeProcess(getpid()));
  EXPECT_FALSE(IsNodeProcess(999999999));
  EXPECT_EQ(ClusterRecordPath(nullptr), "/tmp/polyray/current_cluster");
  EXPECT_EQ(ClusterRecordPath("/x"), "/x/polyray/current_cluster");
}

}  // namespace
}  // namespace polyray::core

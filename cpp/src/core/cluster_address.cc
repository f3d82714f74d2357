#include "core/cluster_address.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "polyray/exceptions.h"

namespace polyray::core {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool ReadAll(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream s;
  s << f.rdbuf();
  *out = s.str();
  return true;
}

}  // namespace

std::string ClusterRecordPath(const char* tmpdir) {
  std::string root = tmpdir && *tmpdir ? tmpdir : "/tmp";
  return root + "/polyray/current_cluster";
}

std::optional<ClusterRecord> ParseClusterRecord(const std::string& text) {
  std::map<std::string, std::string> values;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    values[Trim(line.substr(0, eq))] = Trim(line.substr(eq + 1));
  }
  ClusterRecord r;
  r.gcs_address = values["gcs_address"];
  const std::string& pid = values["pid"];
  if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) {
    return std::nullopt;
  }
  r.pid = std::atoi(pid.c_str());
  if (r.gcs_address.find(':') == std::string::npos || r.pid <= 0) return std::nullopt;
  r.dashboard_url = values["dashboard_url"];
  r.session_dir = values["session_dir"];
  return r;
}

bool IsNodeProcess(int pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::string cmdline, stat;
  if (!ReadAll(proc + "/cmdline", &cmdline) || !ReadAll(proc + "/stat", &stat)) return false;
  size_t close = stat.rfind(')');
  if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z') return false;
  return cmdline.find("polyray.node") != std::string::npos;
}

std::optional<ClusterRecord> ReadClusterRecord(const std::string& path, const std::function<bool(int)>& alive) {
  // Owned by this user and writable by no one else: a record planted by another
  // user would send this driver's token to their GCS (never followed, never removed).
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || st.st_uid != ::getuid() || (st.st_mode & 022) != 0) return std::nullopt;
  std::string text;
  if (!ReadAll(path, &text)) return std::nullopt;
  auto r = ParseClusterRecord(text);
  if (r && alive(r->pid)) return r;
  std::remove(path.c_str());
  return std::nullopt;
}

std::string ResolveClusterAddress(const std::string& configured, const char* env,
                                  const std::function<std::optional<ClusterRecord>()>& record,
                                  const std::string& record_path) {
  if (configured == "local") return "";
  if (!configured.empty() && configured != "auto") return configured;
  std::string from_env = env ? Trim(env) : "";
  if (!from_env.empty()) return from_env;
  if (configured.empty()) return "";
  if (auto r = record()) return r->gcs_address;
  throw polyray::Error("Init with address \"auto\" found no running cluster: $POLYRAY_ADDRESS is not set and no "
                       "live cluster is recorded in " + record_path +
                       " (start one with `polyray start --head`, or give host:port)");
}

std::string ResolveClusterAddress(const std::string& configured) {
  const std::string path = ClusterRecordPath(std::getenv("TMPDIR"));
  return ResolveClusterAddress(configured, std::getenv("POLYRAY_ADDRESS"),
                               [&path] { return ReadClusterRecord(path); }, path);
}

}  // namespace polyray::core

// Which cluster a C++ driver joins, in the order of the Python and Java
// drivers (python/polyray/cluster_record.py, ClusterAddress.java):
//   Config::address "host:port": that one; "local": a new embedded head;
//   "auto": $POLYRAY_ADDRESS if set, else the cluster `polyray start --head`
//     recorded in $TMPDIR/polyray/current_cluster (its owner still running),
//     else polyray::Error naming both;
//   empty: $POLYRAY_ADDRESS if set (Ray's rule), else a new embedded head.
// The record is key=value lines (gcs_address, dashboard_url, session_dir,
// pid); one whose pid is not a running polyray.node process is ignored and
// removed; one owned by another user, or writable by group or others, is ignored.
#ifndef POLYRAY_CORE_CLUSTER_ADDRESS_H_
#define POLYRAY_CORE_CLUSTER_ADDRESS_H_

#include <functional>
#include <optional>
#include <string>

namespace polyray::core {

struct ClusterRecord {
  std::string gcs_address;
  int pid = 0;
  std::string dashboard_url;
  std::string session_dir;
};

/// $TMPDIR/polyray/current_cluster (/tmp without TMPDIR).
std::string ClusterRecordPath(const char* tmpdir);
/// The record in `text`; nullopt without an address or pid.
std::optional<ClusterRecord> ParseClusterRecord(const std::string& text);
/// True when `pid` runs and is a polyray node daemon (not a dead one's reused pid).
bool IsNodeProcess(int pid);
/// The record at `path` whose owner runs (`alive`); removes a stale or malformed one.
std::optional<ClusterRecord> ReadClusterRecord(const std::string& path,
                                               const std::function<bool(int)>& alive = IsNodeProcess);

/// The rule with its inputs given: the address to join, or "" to start an
/// embedded head. `env` is $POLYRAY_ADDRESS (nullptr: unset); `record` reads
/// the live record; `record_path` is named in the error.
std::string ResolveClusterAddress(const std::string& configured, const char* env,
                                  const std::function<std::optional<ClusterRecord>()>& record,
                                  const std::string& record_path);
/// The rule for this process (its environment and record).
std::string ResolveClusterAddress(const std::string& configured);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_CLUSTER_ADDRESS_H_

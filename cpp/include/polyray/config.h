// polyray::Config: how Init() connects a C++ driver.
#ifndef POLYRAY_CONFIG_H_
#define POLYRAY_CONFIG_H_

#include <map>
#include <string>
#include <vector>

namespace polyray {

/// Options of Init(Config). Empty fields take their defaults.
struct Config {
  /// "host:port" of a running head's GCS (as printed by `polyray start
  /// --head`); "auto": $POLYRAY_ADDRESS, else the cluster `polyray start
  /// --head` recorded on this machine, else Init throws; "local": always a new
  /// embedded head; empty: $POLYRAY_ADDRESS when set (as Ray), else an
  /// embedded head node that stops at Shutdown() or when this process exits.
  std::string address;
  /// Where workers find user code: directories and shared libraries (C++),
  /// classpath entries (Java), sys.path entries (Python). Empty: the
  /// POLYRAY_CODE_SEARCH_PATH environment variable (entries separated by ':').
  std::vector<std::string> code_search_path;
  /// The namespace of named actors this job creates and looks up.
  std::string ray_namespace;
  /// The bound, in bytes, of the lineage (task specs) this driver keeps to
  /// recompute lost objects; 0 keeps none; negative: the runtime spec's
  /// 256 MiB. POLYRAY_LINEAGE_MAX_BYTES wins.
  long long lineage_max_bytes = -1;
  /// Embedded head only (as Python's init(_system_config=...)): seconds a
  /// worker may stay idle before the raylet stops it (Python's
  /// idle_worker_timeout_s, Ray's idle_worker_killing_time_threshold_ms / 1000);
  /// negative: the node's default (10 s, or $POLYRAY_IDLE_WORKER_TIMEOUT_S).
  double idle_worker_timeout_s = -1;
  /// Embedded head only: how many idle workers per language the pool keeps
  /// warm past the idle timeout: "N" for every language, "java=2,cpp=1"
  /// (languages not named keep none), or empty / "auto" (the CPU count each).
  std::string warm_workers;
  /// Ray's JobConfig(metadata=...): kept in the GCS job table (Python's
  /// polyray.util.state.list_jobs(detail=True) shows it). Keys must be
  /// non-empty; keys and values valid UTF-8. Init throws std::invalid_argument
  /// naming "job_metadata" otherwise.
  std::map<std::string, std::string> job_metadata;
  /// Ray's JobConfig(default_actor_lifetime=...): "detached" or
  /// "non_detached"; empty: non_detached. Named actors this job creates
  /// without SetDetached (in this driver and in its C++ and Python workers)
  /// take it. Anything else: Init throws std::invalid_argument naming
  /// "default_actor_lifetime".
  std::string default_actor_lifetime;
};

}  // namespace polyray

#endif  // POLYRAY_CONFIG_H_

// A head node (GCS + raylet) run as a child process of a C++ driver:
// `<python> -m polyray.node --head --port 0 --address-file F --parent-pid
// <pid>` (python/polyray/node.py), as the Java driver's EmbeddedHead.
//
// Invariants: the child stops by itself when this process disappears
// (--parent-pid), so a killed driver leaves no process or shared-memory
// segment behind; Stop() sends SIGTERM (the head stops its workers and
// unlinks the store), waits up to 15 s, then SIGKILLs, and removes the
// head's session folder (/tmp/polyray-cpp-XXXXXX: head.log, gcs_address),
// so a clean stop leaves nothing in /tmp; only a head that failed to start
// keeps its folder, for its log, whose path the error names. The interpreter is
// $POLYRAY_PYTHON, else the build's default (the repository's .venv, when
// compiled with POLYRAY_DEFAULT_PYTHON), else python3.
#ifndef POLYRAY_CORE_EMBEDDED_HEAD_H_
#define POLYRAY_CORE_EMBEDDED_HEAD_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace polyray::core {

/// A running embedded head; see the file comment.
class EmbeddedHead {
 public:
  /// Starts a head and waits until it serves (its address file appears).
  /// Throws polyray::Error with the end of its log when it does not start.
  /// `flags` are added to the head's command line (HeadPoolFlags).
  static EmbeddedHead Start(int64_t timeout_ms = 60'000, const std::vector<std::string>& flags = {});
  /// The head flags of the worker pool settings (Config.idle_worker_timeout_s,
  /// Config.warm_workers; negative / empty: none), checked as the node checks
  /// them: std::invalid_argument naming the field otherwise.
  static std::vector<std::string> HeadPoolFlags(double idle_worker_timeout_s, const std::string& warm_workers);
  /// The interpreter Start uses.
  static std::string Python();

  EmbeddedHead(EmbeddedHead&& other) noexcept;
  EmbeddedHead& operator=(EmbeddedHead&& other) noexcept;
  EmbeddedHead(const EmbeddedHead&) = delete;
  EmbeddedHead& operator=(const EmbeddedHead&) = delete;
  ~EmbeddedHead();

  /// "host:port" of its GCS.
  const std::string& address() const { return address_; }
  /// Its session folder (holds head.log and gcs_address); empty once Stop
  /// has removed it.
  const std::string& session_dir() const { return session_dir_; }
  /// Its output (stdout and stderr), inside session_dir().
  std::string log_file() const { return session_dir_ + "/head.log"; }
  /// SIGTERM, wait up to 15 s, then SIGKILL; then removes session_dir().
  /// Idempotent.
  void Stop();

 private:
  EmbeddedHead(pid_t pid, std::string session_dir) : pid_(pid), session_dir_(std::move(session_dir)) {}
  /// Stops the child only (the folder stays).
  void StopProcess();

  pid_t pid_ = -1;
  std::string address_;
  std::string session_dir_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_EMBEDDED_HEAD_H_

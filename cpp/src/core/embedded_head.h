// A head node (GCS + raylet) run as a child process of a C++ driver:
// `<python> -m polyray.node --head --port 0 --address-file F --parent-pid
// <pid>` (python/polyray/node.py), as the Java driver's EmbeddedHead.
//
// Invariants: the child stops by itself when this process disappears
// (--parent-pid), so a killed driver leaves no process or shared-memory
// segment behind; Stop() sends SIGTERM (the head stops its workers and
// unlinks the store), waits up to 15 s, then SIGKILLs. The interpreter is
// $POLYRAY_PYTHON, else the build's default (the repository's .venv, when
// compiled with POLYRAY_DEFAULT_PYTHON), else python3.
#ifndef POLYRAY_CORE_EMBEDDED_HEAD_H_
#define POLYRAY_CORE_EMBEDDED_HEAD_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace polyray::core {

/// A running embedded head; see the file comment.
class EmbeddedHead {
 public:
  /// Starts a head and waits until it serves (its address file appears).
  /// Throws polyray::Error with the end of its log when it does not start.
  static EmbeddedHead Start(int64_t timeout_ms = 60'000);
  /// The interpreter Start uses.
  static std::string Python();

  EmbeddedHead(EmbeddedHead&& other) noexcept;
  EmbeddedHead& operator=(EmbeddedHead&& other) noexcept;
  EmbeddedHead(const EmbeddedHead&) = delete;
  EmbeddedHead& operator=(const EmbeddedHead&) = delete;
  ~EmbeddedHead();

  /// "host:port" of its GCS.
  const std::string& address() const { return address_; }
  /// Its output (stdout and stderr).
  const std::string& log_file() const { return log_file_; }
  /// SIGTERM, wait up to 15 s, then SIGKILL. Idempotent.
  void Stop();

 private:
  EmbeddedHead(pid_t pid, std::string address, std::string log_file)
      : pid_(pid), address_(std::move(address)), log_file_(std::move(log_file)) {}

  pid_t pid_ = -1;
  std::string address_;
  std::string log_file_;
};

}  // namespace polyray::core

#endif  // POLYRAY_CORE_EMBEDDED_HEAD_H_

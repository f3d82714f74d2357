// The runtime of this process (internal::CurrentRuntime): the driver's or
// the worker's CoreWorker.
//
// Invariants: at most one runtime is installed at a time; a runtime that is
// uninstalled is kept alive (never destroyed) for the rest of the process,
// so a late gRPC callback or a RefPtr that outlived it never touches freed
// memory (it finds the runtime shut down and does nothing).
#ifndef POLYRAY_CORE_PROCESS_RUNTIME_H_
#define POLYRAY_CORE_PROCESS_RUNTIME_H_

#include <memory>

namespace polyray::core {

class CoreWorker;

/// Makes `core` this process's runtime. Throws polyray::Error when one is installed.
void InstallRuntime(std::shared_ptr<CoreWorker> core);
/// Removes and returns the installed runtime (null when none), keeping it alive.
std::shared_ptr<CoreWorker> UninstallRuntime();
/// Keeps `object` alive until the process exits (retired runtime state).
void Retire(std::shared_ptr<void> object);

}  // namespace polyray::core

#endif  // POLYRAY_CORE_PROCESS_RUNTIME_H_

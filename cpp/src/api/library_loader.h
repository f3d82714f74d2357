// Loading user code into polyray_cpp_worker: every shared library on the
// job's code search path is dlopened, which runs its POLYRAY_REMOTE static
// initializers (they register into internal::Registry).
//
// Invariants:
//  - Entries are taken in order; a directory contributes its *.so files
//    (not recursively) sorted by name, a file is loaded as it is.
//  - Loading never throws: every failure (missing entry, dlopen error) is
//    recorded in the LoadReport, which the worker quotes in the error of a
//    call it cannot serve. Libraries are never unloaded.
//  - Flags: RTLD_NOW, so a missing symbol fails at load time with dlerror()'s
//    message instead of killing the worker in the middle of a task;
//    RTLD_LOCAL, so two user libraries never bind to each other's symbols
//    (a library that needs another one links it: DT_NEEDED).
#ifndef POLYRAY_SRC_API_LIBRARY_LOADER_H_
#define POLYRAY_SRC_API_LIBRARY_LOADER_H_

#include <string>
#include <vector>

namespace polyray {
namespace internal {

/// What loading the code search path did.
struct LoadReport {
  /// The entries searched, as given.
  std::vector<std::string> search_path;
  /// The libraries loaded.
  std::vector<std::string> loaded;
  /// One line per failure: "<file>: <reason>".
  std::vector<std::string> failed;

  /// One paragraph for error messages: the search path, the libraries
  /// loaded and the failures.
  std::string Describe() const;
};

/// Splits a ':'-separated path (POLYRAY_CODE_SEARCH_PATH), dropping empty parts.
std::vector<std::string> SplitSearchPath(const std::string& text);

/// dlopens every shared library named by `entries` (see the file comment).
LoadReport LoadCodeSearchPath(const std::vector<std::string>& entries);

}  // namespace internal
}  // namespace polyray

#endif  // POLYRAY_SRC_API_LIBRARY_LOADER_H_

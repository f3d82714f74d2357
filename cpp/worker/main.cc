// polyray_cpp_worker: the C++ worker process the raylet's C++ worker pool
// starts (docs/cpp.md, "Loading user code"). It loads the user libraries of the job's code search
// path (POLYRAY_CODE_SEARCH_PATH, entries separated by ':'), then serves
// tasks with the registered functions until the raylet stops it.
//
// Invariants: a library that fails to load, a duplicate registration or an
// unknown function never stops the worker; they are reported (on stderr, in
// the worker's log, and in the error of every call that needs them).
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

#include "api/function_executor.h"
#include "api/library_loader.h"
#include "polyray/internal/registry.h"
#include "polyray/internal/runtime.h"

int main(int argc, char** argv) {
  using namespace polyray::internal;
  if (argc > 1 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << "usage: polyray_cpp_worker\n"
                 "Started by a polyray raylet (reads the POLYRAY_* environment); loads every\n"
                 "shared library on POLYRAY_CODE_SEARCH_PATH and runs the functions they\n"
                 "register with POLYRAY_REMOTE.\n";
    return 0;
  }
  const char* path = std::getenv("POLYRAY_CODE_SEARCH_PATH");
  LoadReport report = LoadCodeSearchPath(SplitSearchPath(path != nullptr ? path : ""));
  for (const std::string& failure : report.failed) {
    std::cerr << "polyray_cpp_worker: cannot load " << failure << std::endl;
  }
  for (const std::string& problem : Registry::Instance().Problems()) {
    std::cerr << "polyray_cpp_worker: " << problem << std::endl;
  }
  auto executor = std::make_shared<FunctionExecutor>(std::move(report));
  try {
    return RunWorker(FunctionExecutor::Bind(executor));
  } catch (const std::exception& e) {
    std::cerr << "polyray_cpp_worker: " << e.what() << std::endl;
    return 1;
  }
}

// A C++ callee that exists only in a library shipped in a job's working_dir
// (tests/runtime_env/test_nodes.py): it reports the variable the job's
// runtime env sets and the worker's working directory.
#include <polyray/api.h>

#include <cstdlib>
#include <string>
#include <unistd.h>

std::string RtEnvCppWhere(std::string tag) {
  const char* v = std::getenv("RTENV_VAR");
  char cwd[4096];
  const char* dir = getcwd(cwd, sizeof cwd) ? cwd : "?";
  return "cpp:" + tag + ":" + (v ? v : "unset") + ":" + dir;
}

POLYRAY_REMOTE(RtEnvCppWhere);

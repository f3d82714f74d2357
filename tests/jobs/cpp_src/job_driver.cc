// A C++ driver submitted as a job with a working dir (tests/jobs/test_jobs_three_nodes.py): it
// sets no code search path and no address; the job gives both ($POLYRAY_ADDRESS, and the working
// dir's *.so loaded by every C++ worker). It calls RtEnvCppWhere (only in the working dir's
// librtenv_funcs.so) on each node named in argv, pinned by the node's custom resource.
//
//   job_driver NODE...
#include <polyray/api.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  constexpr int64_t kTimeoutMs = 150000;
  try {
    polyray::Init();
    std::vector<std::string> nodes(argv + 1, argv + argc);
    std::vector<polyray::ObjectRef<std::string>> refs;
    for (const auto& node : nodes) {
      refs.push_back(polyray::Task(polyray::CppFunction<std::string>{"RtEnvCppWhere"})
                         .SetResource(node, 0.01)
                         .Remote(node));
    }
    for (size_t i = 0; i < nodes.size(); i++) {
      std::cout << "RESULT " << nodes[i] << "=" << *polyray::Get(refs[i], kTimeoutMs) << std::endl;
    }
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "job_driver failed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

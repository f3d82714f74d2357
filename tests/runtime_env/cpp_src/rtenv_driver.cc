// A C++ driver whose job has a runtime env (tests/runtime_env/test_drivers.py):
// $POLYRAY_RUNTIME_ENV_JSON names a working_dir (a node-local folder holding a
// Python module) and env_vars; the driver calls that module's function and a
// C++ function, which report their worker's cwd and the variable.
//
//   rtenv_driver <host:port of the head> <librtenv_funcs.so>
#include <polyray/api.h>

#include <cstdint>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: rtenv_driver <host:port> <librtenv_funcs.so>\n";
    return 2;
  }
  constexpr int64_t kTimeoutMs = 90000;
  polyray::Config config;
  config.address = argv[1];
  config.code_search_path = {argv[2]};
  try {
    polyray::Init(config);
    auto py = polyray::Task(polyray::PyFunction<std::string>{"rtenv_mod", "where_text"}).Remote();
    std::cout << "RESULT py=" << *polyray::Get(py, kTimeoutMs) << std::endl;
    auto cpp = polyray::Task(polyray::CppFunction<std::string>{"RtEnvCppWhere"}).Remote(std::string("d"));
    std::cout << "RESULT cpp=" << *polyray::Get(cpp, kTimeoutMs) << std::endl;
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "rtenv_driver failed: " << e.what() << "\n";
    return 1;
  }
  std::cout << "DONE" << std::endl;
  return 0;
}

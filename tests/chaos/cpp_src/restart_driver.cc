// A C++ driver for tests/chaos/test_actor_restarts_drivers.py: the caller of
// an actor that the test SIGKILLs under its calls.
//
//   restart_driver <kills> <code search path entry>...
//
// Creates the C++ Counter of tests/xlang/cpp_src/xlang_funcs.cc with
// max_restarts=-1 and max_task_retries=-1. Then, <kills> times: prints
// "PID <actor pid>", sends 20 Add(1) calls, waits for a line on stdin (the
// test has SIGKILLed that pid), sends 20 more (they meet the restart).
// Finally prints "PID <pid>", "VALUES v1,v2,..." (every result, in
// submission order) and "DONE". Any exception: exit code 1, message on stderr.
#include <polyray/api.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: restart_driver <kills> <code search path>...\n";
    return 2;
  }
  constexpr int64_t kTimeoutMs = 120000;
  int kills = std::stoi(argv[1]);
  polyray::Config config;
  for (int i = 2; i < argc; i++) config.code_search_path.push_back(argv[i]);
  try {
    polyray::Init(config);
    auto c = polyray::Actor(polyray::CppActorClass{"Counter::Create", "Counter"})
                 .SetMaxRestarts(-1)
                 .SetMaxTaskRetries(-1)
                 .Remote(int64_t{0});
    auto pid = [&] { return *polyray::Get(c.Task(polyray::CppActorMethod<int64_t>{"Counter::Pid"}).Remote(), kTimeoutMs); };
    auto add = [&] { return c.Task(polyray::CppActorMethod<int64_t>{"Counter::Add"}).Remote(int64_t{1}); };
    std::vector<polyray::ObjectRef<int64_t>> refs;
    std::string line;
    for (int k = 0; k < kills; k++) {
      std::cout << "PID " << pid() << std::endl;
      for (int i = 0; i < 20; i++) refs.push_back(add());
      std::getline(std::cin, line);
      for (int i = 0; i < 20; i++) refs.push_back(add());
    }
    std::cout << "PID " << pid() << std::endl;
    std::cout << "VALUES ";
    for (size_t i = 0; i < refs.size(); i++) std::cout << (i ? "," : "") << *polyray::Get(refs[i], kTimeoutMs);
    std::cout << std::endl;
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "restart_driver failed: " << e.what() << std::endl;
    return 1;
  }
  std::cout << "DONE" << std::endl;
  return 0;
}

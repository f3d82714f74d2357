// A C++ driver for tests/observability/test_output.py:
//   speak_driver <n> <code search path>...
// calls Speak(n) (speak.cc), prints "result <n>" and shuts down at once: the
// n lines the task printed must be printed here before Shutdown() returns.
#include <polyray/api.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  polyray::Config config;
  for (int i = 2; i < argc; i++) config.code_search_path.push_back(argv[i]);
  polyray::Init(config);
  int64_t n = std::atoll(argv[1]);
  auto got = polyray::Get(polyray::Task(polyray::CppFunction<int64_t>{"Speak"}).Remote(n), 120000);
  std::cout << "result " << *got << std::endl;
  polyray::Shutdown();
  return 0;
}

// A C++ driver for tests/scale/test_get_fanout_cpp_driver.py (issue 14,
// Deliver 2): gets n refs owned by one worker, batched by the C++ fetcher.
//
//   get_many_driver <python|cpp> <n> <code search path entry>...
//
// python: the refs come from scale_mod.put_many(n) (a Python worker owns
// them); cpp: from ScalePutMany(n) (a C++ worker owns them). Prints
// "RESULT n=<count> sum=<sum> seconds=<get time>". Anything else: exit 1.
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: get_many_driver <python|cpp> <n> <code search path>...\n";
    return 2;
  }
  std::string owner = argv[1];
  int64_t n = std::stoll(argv[2]);
  polyray::Config config;
  for (int i = 3; i < argc; i++) config.code_search_path.push_back(argv[i]);
  try {
    polyray::Init(config);
    using Refs = std::vector<polyray::ObjectRef<int64_t>>;
    std::shared_ptr<Refs> refs;
    if (owner == "python") {
      refs = polyray::Get(polyray::Task(polyray::PyFunction<Refs>{"scale_mod", "put_many"}).Remote(n), 120000);
    } else {
      refs = polyray::Get(polyray::Task(polyray::CppFunction<Refs>{"ScalePutMany"}).Remote(n), 120000);
    }
    auto started = std::chrono::steady_clock::now();
    auto values = polyray::Get(*refs, 120000);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    int64_t sum = 0;
    for (const auto& v : values) sum += *v;
    std::cout << "RESULT n=" << values.size() << " sum=" << sum << " seconds=" << took << std::endl;
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "get_many_driver failed: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}

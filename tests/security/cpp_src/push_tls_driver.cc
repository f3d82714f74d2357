// A C++ driver for tests/security/test_push_tls.py: joins a TLS cluster, runs
// sync loops of Python, Java and C++ tasks (the test watches which ports it
// talks to meanwhile), then calls a Python, a Java and a C++ actor, waits for
// a line on stdin and calls them again. The same lines as the test's Python
// and Java drivers:
//   ready / loop <lang> / done <lang> <calls> <last> / actors a b c / again a b c / DONE
//   push_tls_driver <host:port> <code search path entry>...
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace {
constexpr int64_t kTimeoutMs = 60000;
constexpr std::chrono::milliseconds kLoop{1500};

template <typename T>
T G(const polyray::ObjectRef<T>& ref) {
  return *polyray::Get(ref, kTimeoutMs);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: push_tls_driver <host:port> <code search path>...\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  for (int i = 2; i < argc; i++) config.code_search_path.push_back(argv[i]);
  try {
    polyray::Init(config);
    std::cout << "ready" << std::endl;
    std::vector<std::pair<std::string, std::function<int64_t(int64_t)>>> calls = {
        {"py", [](int64_t i) { return G(polyray::Task(polyray::PyFunction<int64_t>{"tls_mod", "plus1"}).Remote(i)); }},
        {"java",
         [](int64_t i) {
           return G(polyray::Task(polyray::JavaFunction<int64_t>{"xlangtest.Calc", "add"}).Remote(i, int64_t{1}));
         }},
        {"cpp", [](int64_t i) { return G(polyray::Task(polyray::CppFunction<int64_t>{"Plus1"}).Remote(i)); }},
    };
    for (auto& [lang, call] : calls) {
      call(0);  // the worker starts here, not inside the loop
      std::cout << "loop " << lang << std::endl;
      int64_t n = 0, last = 0;
      auto end = std::chrono::steady_clock::now() + kLoop;
      while (std::chrono::steady_clock::now() < end) last = call(n++);
      std::cout << "done " << lang << " " << n << " " << last << std::endl;
    }
    polyray::ActorHandleXlang py = polyray::Actor(polyray::PyActorClass{"tls_mod", "Counter"}).Remote();
    auto java = polyray::Actor(polyray::JavaActorClass{"xlangtest.Counter"}).Remote(int64_t{10});
    auto cpp = polyray::Actor(polyray::CppActorClass{"Counter::Create", "Counter"}).Remote(int64_t{0});
    auto call_actors = [&](const char* label) {
      int64_t a = G(py.Task(polyray::PyActorMethod<int64_t>{"add"}).Remote(int64_t{1}));
      int64_t b = G(java.Task(polyray::JavaActorMethod<int64_t>{"increment"}).Remote(int64_t{1}));
      int64_t c = G(cpp.Task(polyray::CppActorMethod<int64_t>{"Counter::Add"}).Remote(int64_t{1}));
      std::cout << label << " " << a << " " << b << " " << c << std::endl;
    };
    call_actors("actors");
    std::string line;
    std::getline(std::cin, line);
    call_actors("again");
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "push_tls_driver failed: " << e.what() << std::endl;
    return 1;
  }
  std::cout << "DONE" << std::endl;
  return 0;
}

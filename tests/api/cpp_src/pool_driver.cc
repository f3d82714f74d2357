// A C++ driver of Config.idle_worker_timeout_s and Config.warm_workers
// (tests/api/test_cpp_scheduling.py, issue 19 Deliver 4):
//   pool_driver <libscheduling_funcs.so>
// Checks that bad values are std::invalid_argument naming the field, then
// starts an embedded head with a 1 s idle timeout and one warm C++ worker,
// runs two naps at once (two C++ workers) and watches for 6 s which of the
// two worker processes the pool stops. Prints one JSON line.
#include <polyray/api.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string Refused(polyray::Config config) {
  try {
    polyray::Init(config);
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("OTHER: ") + e.what();
  }
  polyray::Shutdown();
  return "NOT THROWN";
}

std::string Q(std::string s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    r += c == '\n' ? ' ' : c;
  }
  return r + "\"";
}

bool Alive(int64_t pid) { return kill(static_cast<pid_t>(pid), 0) == 0; }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: pool_driver <libscheduling_funcs.so>\n";
    return 2;
  }
  polyray::Config bad;
  bad.warm_workers = "go=2";
  std::string bad_warm = Refused(bad);
  bad.warm_workers = "";
  bad.idle_worker_timeout_s = 5;
  bad.address = "127.0.0.1:1";
  std::string idle_with_address = Refused(bad);
  polyray::Config config;
  config.code_search_path.push_back(argv[1]);
  config.idle_worker_timeout_s = 1;
  config.warm_workers = "cpp=1";
  std::string line;
  try {
    polyray::Init(config);
    polyray::CppFunction<int64_t> nap{"NapPid"};
    auto a = polyray::Task(nap).Remote(int64_t{1500});
    auto b = polyray::Task(nap).Remote(int64_t{1500});
    int64_t pa = *polyray::Get(a, 60000), pb = *polyray::Get(b, 60000);
    auto t0 = std::chrono::steady_clock::now();
    int64_t first_gone_ms = -1;
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(6)) {
      if (first_gone_ms < 0 && (!Alive(pa) || !Alive(pb))) {
        first_gone_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    int alive = (Alive(pa) ? 1 : 0) + (Alive(pb) ? 1 : 0);
    line = "{\"bad_warm\": " + Q(bad_warm) + ", \"idle_with_address\": " + Q(idle_with_address) +
           ", \"distinct\": " + (pa != pb ? "true" : "false") + ", \"first_gone_ms\": " +
           std::to_string(first_gone_ms) + ", \"alive_after_6s\": " + std::to_string(alive) + "}";
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "pool_driver failed: " << e.what() << std::endl;
    return 1;
  }
  std::cout << line << std::endl;
  return 0;
}

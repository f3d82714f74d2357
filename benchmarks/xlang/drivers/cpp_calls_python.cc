// The "C++ -> Python actor calls async" row of python/polyray/bench.py: a C++
// driver joins the benchmark's cluster and times batches of calls to a Python
// actor (polyray.bench.Actor.small_value) the way bench.timeit does — a
// warm-up of `duration`, then `repeat` timed runs — and prints one line
// "runs r1 r2 ..." with the rates in calls/s. The C++ twin of
// JavaCallsPython.java.
//
//   cpp_calls_python <gcs address> <batch> <repeat> <duration s>
//
// Invariants: every result is fetched (Get of the whole batch) and checked
// to be b"ok"; the exit code is 0 only when the "runs" line was printed.
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Batches run for `duration` seconds (bench.timeit's warm-up).
int64_t WarmUp(const std::function<void()>& batch, double duration) {
  auto start = std::chrono::steady_clock::now();
  int64_t n = 0;
  while (Seconds(start) < duration) {
    batch();
    ++n;
  }
  return n;
}

int Run(const std::string& address, int batch, int repeat, double duration) {
  polyray::Config config;
  config.address = address;
  polyray::Init(config);
  int rc = 0;
  try {
    polyray::ActorHandleXlang actor =
        polyray::Actor(polyray::PyActorClass{"polyray.bench", "Actor"}).Remote();
    const polyray::PyActorMethod<std::vector<uint8_t>> small{"small_value"};
    const std::vector<uint8_t> ok{'o', 'k'};
    auto one_batch = [&]() {
      std::vector<polyray::ObjectRef<std::vector<uint8_t>>> refs;
      refs.reserve(batch);
      for (int i = 0; i < batch; ++i) refs.push_back(actor.Task(small).Remote());
      std::vector<std::shared_ptr<std::vector<uint8_t>>> values = polyray::Get(refs);
      for (const auto& v : values) {
        if (!v || *v != ok) throw polyray::Error("small_value did not return b\"ok\"");
      }
    };
    int64_t calls = WarmUp(one_batch, duration);
    int64_t step = calls / 10 + 1;
    std::ostringstream out;
    out.precision(17);
    out << "runs";
    for (int r = 0; r < repeat; ++r) {
      auto start = std::chrono::steady_clock::now();
      int64_t n = 0;
      while (Seconds(start) < duration) {
        for (int64_t i = 0; i < step; ++i) one_batch();
        n += step;
      }
      out << ' ' << static_cast<double>(n) * batch / Seconds(start);
    }
    std::cout << out.str() << std::endl;
    polyray::Kill(actor);
  } catch (const std::exception& e) {
    std::cerr << "cpp_calls_python: " << e.what() << std::endl;
    rc = 1;
  }
  polyray::Shutdown();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: " << argv[0] << " <gcs address> <batch> <repeat> <duration s>" << std::endl;
    return 2;
  }
  try {
    return Run(argv[1], std::stoi(argv[2]), std::stoi(argv[3]), std::stod(argv[4]));
  } catch (const std::exception& e) {
    std::cerr << "cpp_calls_python: " << e.what() << std::endl;
    return 1;
  }
}

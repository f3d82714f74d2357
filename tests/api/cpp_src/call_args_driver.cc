// A C++ driver for tests/api/test_cpp_actor_call_args.py (issue 17):
//   call_args_driver <host:port> <libcall_args_funcs.so> <slow_ms>
// The driver calls a C++ actor with a ref of a slow task, then once more with
// no argument; a task (another caller, given the actor's handle) calls the
// actor too. Prints "RESULT key=value" lines: whether the other caller's call
// returned while the slow ref was still pending, and the actor's log.
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

// The callees' definitions too: the typed API names them (Task(SlowValue), &Recorder::Take).
#include "call_args_funcs.cc"

namespace {
constexpr int64_t kTimeoutMs = 60000;
void Out(const std::string& key, const std::string& value) { std::cout << "RESULT " << key << "=" << value << std::endl; }
}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: call_args_driver <host:port> <libcall_args_funcs.so> <slow_ms>\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  config.code_search_path.push_back(argv[2]);
  polyray::Init(config);
  auto rec = polyray::Actor(Recorder::Create).Remote();
  polyray::Get(rec.Task(&Recorder::Log).Remote(), kTimeoutMs);  // up
  auto slow = polyray::Task(SlowValue).Remote(int64_t{std::stoll(argv[3])});
  auto start = std::chrono::steady_clock::now();
  auto taking = rec.Task(&Recorder::Take).Remote(slow);  // its argument is slow
  auto mine = rec.Task(&Recorder::Mark).Remote(std::string("driver-after"));  // this caller's next call
  auto other = polyray::Task(CallMark).Remote(rec, std::string("other-caller"));  // another caller
  Out("other", *polyray::Get(other, kTimeoutMs));
  auto w = polyray::Wait(std::vector<polyray::ObjectRef<std::string>>{slow}, 1, 0);
  Out("slow_pending_when_other_returned", w.ready.empty() ? "true" : "false");
  Out("other_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - start).count()));
  Out("taking", *polyray::Get(taking, kTimeoutMs));
  Out("mine", *polyray::Get(mine, kTimeoutMs));
  std::string log;
  auto entries = polyray::Get(rec.Task(&Recorder::Log).Remote(), kTimeoutMs);
  for (const auto& e : *entries) {
    log += (log.empty() ? "" : ",") + e;
  }
  Out("log", log);
  // A borrowed pending argument: the borrower (a task) resolves it through its owner (this driver).
  auto rec2 = polyray::Actor(Recorder::Create).Remote();
  polyray::Get(rec2.Task(&Recorder::Log).Remote(), kTimeoutMs);
  auto slow2 = polyray::Task(SlowValue).Remote(int64_t{std::stoll(argv[3])});
  auto pair = polyray::Get(
      polyray::Task(TakeThenMark).Remote(rec2, std::vector<polyray::ObjectRef<std::string>>{slow2}), kTimeoutMs);
  Out("driver_mark", *polyray::Get(rec2.Task(&Recorder::Mark).Remote(std::string("driver")), kTimeoutMs));
  auto w2 = polyray::Wait(std::vector<polyray::ObjectRef<std::string>>{slow2}, 1, 0);
  Out("slow2_pending_when_driver_returned", w2.ready.empty() ? "true" : "false");
  Out("borrowed_take", *polyray::Get(pair->at(0), kTimeoutMs));
  Out("borrowed_after", *polyray::Get(pair->at(1), kTimeoutMs));
  auto entries2 = polyray::Get(rec2.Task(&Recorder::Log).Remote(), kTimeoutMs);
  std::string log2;
  for (const auto& e : *entries2) log2 += (log2.empty() ? "" : ",") + e;
  Out("log2", log2);
  polyray::Shutdown();
  std::cout << "DONE" << std::endl;
  return 0;
}

// C++ callees of tests/api/test_cpp_actor_call_args.py (issue 17): a slow
// value, an actor that logs what its calls did, and a task that calls the
// actor through a handle passed to it (a second caller with its own stream).
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

std::string SlowValue(int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return "slow";
}

class Recorder {
 public:
  static Recorder* Create() { return new Recorder(); }
  std::string Take(const std::string& value) { return Add("take:" + value, value); }
  std::string Mark(const std::string& tag) { return Add(tag, tag); }
  std::vector<std::string> Log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }

 private:
  std::string Add(const std::string& entry, const std::string& out) {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(entry);
    return out;
  }
  std::mutex mu_;
  std::vector<std::string> log_;
};

// Another caller: a task calling the actor through a handle passed in.
std::string CallMark(polyray::ActorHandle<Recorder> recorder, const std::string& tag) {
  return *polyray::Get(recorder.Task(&Recorder::Mark).Remote(tag), 30000);
}

// A borrower: passes a ref it got inside a value (owned by the driver) to the
// actor, then calls again; returns both calls' refs once they are submitted.
std::vector<polyray::ObjectRef<std::string>> TakeThenMark(polyray::ActorHandle<Recorder> recorder,
                                                          std::vector<polyray::ObjectRef<std::string>> box) {
  return {recorder.Task(&Recorder::Take).Remote(box.at(0)),
          recorder.Task(&Recorder::Mark).Remote(std::string("after-borrowed"))};
}

POLYRAY_REMOTE(SlowValue, CallMark, TakeThenMark);
POLYRAY_REMOTE(Recorder::Create, &Recorder::Take, &Recorder::Mark, &Recorder::Log);

// A C++ actor that owns the objects it puts and keeps the refs it is given
// (tests/observability/test_state_objects.py).
#include <polyray/api.h>

#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

class Holder {
 public:
  static Holder* Create() { return new Holder(); }
  // Puts n bytes (owned by this worker) and keeps the ref; returns this worker's pid.
  int64_t PutBytes(int64_t n) {
    puts_.push_back(polyray::Put(std::string(static_cast<size_t>(n), 'c')));
    return static_cast<int64_t>(getpid());
  }
  int64_t Keep(std::vector<polyray::ObjectRef<std::string>> refs) {
    for (auto& r : refs) kept_.push_back(r);
    return static_cast<int64_t>(kept_.size());
  }
  int64_t Pid() { return static_cast<int64_t>(getpid()); }

 private:
  std::vector<polyray::ObjectRef<std::string>> puts_;
  std::vector<polyray::ObjectRef<std::string>> kept_;
};

POLYRAY_REMOTE(Holder::Create, &Holder::PutBytes, &Holder::Keep, &Holder::Pid);

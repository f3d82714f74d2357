// A C++ actor that keeps the refs it is given in its state
// (tests/chaos/test_borrower_death.py): it borrows them until it dies.
#include <polyray/api.h>

#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

class Keeper {
 public:
  static Keeper* Create() { return new Keeper(); }
  int64_t Keep(std::vector<polyray::ObjectRef<std::string>> refs) {
    for (auto& r : refs) kept_.push_back(r);
    return static_cast<int64_t>(kept_.size());
  }
  int64_t Pid() { return static_cast<int64_t>(getpid()); }

 private:
  std::vector<polyray::ObjectRef<std::string>> kept_;
};

POLYRAY_REMOTE(Keeper::Create, &Keeper::Keep, &Keeper::Pid);

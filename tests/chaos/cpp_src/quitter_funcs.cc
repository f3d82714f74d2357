// A C++ actor that ends itself (tests/chaos/test_cpp_last_events.py): its
// worker exits right after the call, before its next periodic event flush.
#include <polyray/api.h>

#include <unistd.h>

#include <cstdint>

class Quitter {
 public:
  static Quitter* Create() { return new Quitter(); }
  int64_t Pid() { return static_cast<int64_t>(getpid()); }
  int64_t Quit() { polyray::ExitActor(); }
};

POLYRAY_REMOTE(Quitter::Create, &Quitter::Pid, &Quitter::Quit);

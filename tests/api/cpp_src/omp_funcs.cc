// OMP_NUM_THREADS as a C++ task and a C++ actor see it (tests/api/test_omp_num_threads_xlang.py).
#include <polyray/api.h>

#include <cstdlib>
#include <string>

std::string Omp() {
  const char* v = std::getenv("OMP_NUM_THREADS");
  return v ? v : "";
}

class OmpActor {
 public:
  static OmpActor* Create() { return new OmpActor(); }
  std::string Get() { return Omp(); }
};

POLYRAY_REMOTE(Omp, OmpActor::Create, &OmpActor::Get);

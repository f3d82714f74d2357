// CUDA_VISIBLE_DEVICES as a C++ task and a C++ actor see it (tests/api/test_gpus_xlang.py).
#include <polyray/api.h>

#include <cstdlib>
#include <string>

std::string Cuda() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return v ? v : "unset";
}

class GpuActor {
 public:
  static GpuActor* Create() { return new GpuActor(); }
  std::string Get() { return Cuda(); }
};

POLYRAY_REMOTE(Cuda, GpuActor::Create, &GpuActor::Get);

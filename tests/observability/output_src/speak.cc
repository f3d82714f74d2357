// A C++ function that prints, for tests/observability/test_output.py.
#include <polyray/api.h>

#include <cstdint>
#include <cstdio>

/// Prints n lines "line-<i>" on stdout and returns n.
int64_t Speak(int64_t n) {
  for (int64_t i = 0; i < n; i++) std::printf("line-%lld\n", static_cast<long long>(i));
  return n;
}

POLYRAY_REMOTE(Speak);

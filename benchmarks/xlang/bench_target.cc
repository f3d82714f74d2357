// The C++ side of the cross-language benchmark rows (python/polyray/bench.py):
// the smallest task and actor call, and a reader of a large array. bench.py
// compiles it with the SDK's flags (polyray.sdk.cpp_flags, the same as
// `polyray cpp-flags`) into build/bench/cpp/libpolyray_bench_target.so and
// puts that folder on the job's code search path, where polyray_cpp_worker
// loads it.
//
// Invariants: each callable is registered exactly once, here; SmallValue
// returns bin b"ok" like the Python rows' small_value; Sum reads every element
// of a zero-copy view of the argument, so its row measures reaching the data.
#include <polyray/api.h>

#include <cstdint>
#include <vector>

namespace {
const std::vector<uint8_t> kOk{'o', 'k'};
}  // namespace

/// The cross-language counterpart of the Python rows' small_value task (bin).
std::vector<uint8_t> SmallValue() { return kOk; }

/// The sum of every element of an int64 array, read in place (no copy of the
/// data when it arrives out of band, e.g. from the node's shared memory).
int64_t Sum(polyray::NdSpan<int64_t> values) {
  int64_t s = 0;
  for (int64_t v : values) s += v;
  return s;
}

/// An actor with the smallest method, for the actor-call rows.
class BenchActor {
 public:
  static BenchActor* Create() { return new BenchActor(); }
  std::vector<uint8_t> SmallValue() { return kOk; }
};

POLYRAY_REMOTE(SmallValue, Sum, BenchActor::Create, &BenchActor::SmallValue);

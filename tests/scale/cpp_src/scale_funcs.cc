// C++ callees of the scale tests (tests/scale/test_get_fanout_cpp.py): a task
// that owns many objects. Built by the test with `polyray cpp-flags`.
#include <polyray/api.h>

#include <cstdint>
#include <vector>

// Puts n values (owned by this worker) and returns their refs.
std::vector<polyray::ObjectRef<int64_t>> ScalePutMany(int64_t n) {
  std::vector<polyray::ObjectRef<int64_t>> refs;
  refs.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) refs.push_back(polyray::Put(i));
  return refs;
}

POLYRAY_REMOTE(ScalePutMany);

// The reference protocol's cluster test (tests/scale/test_ref_protocol_cluster.py):
// returns the refs it was given (borrowed from their owners, passed through)
// and `n` new ones it owns (values base, base + 1, ...).
std::vector<polyray::ObjectRef<int64_t>> ScaleRelay(std::vector<polyray::ObjectRef<int64_t>> refs, int64_t n,
                                                    int64_t base) {
  for (int64_t i = 0; i < n; ++i) refs.push_back(polyray::Put(base + i));
  return refs;
}

POLYRAY_REMOTE(ScaleRelay);

// The blocked-tree test (tests/scale/test_blocked_tree_cpp.py): submits two
// children and blocks in Get for both; returns the tasks of its subtree.
int64_t ScaleTree(int64_t depth) {
  if (depth == 0) return 1;
  polyray::ObjectRef<int64_t> a = polyray::Task(ScaleTree).Remote(depth - 1);
  polyray::ObjectRef<int64_t> b = polyray::Task(ScaleTree).Remote(depth - 1);
  return 1 + *polyray::Get(a) + *polyray::Get(b);
}

POLYRAY_REMOTE(ScaleTree);

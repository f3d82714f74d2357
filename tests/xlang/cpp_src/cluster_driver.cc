// A C++ driver program for the multi-node tests (tests/cluster/test_cpp_nodes.py).
//
//   cluster_driver <host:port of the head> <store name of node B> <libcluster_funcs.so>
//
// The cluster is a head with 1 CPU and node B with 2 CPUs and resource "b".
// The driver (attached to the head) checks, with the C++ runtime on both
// sides:
//   - spill-over: a task needing resource "b" is sent by the head's raylet to
//     B (retry_at); two 2 s tasks at once on a full head run side by side,
//     the second spilled to B;
//   - pulls: a large result made on B is pulled into the head's store by
//     Get; a large value put by the driver is pulled to B by the C++ worker
//     there, which tells the owner (this driver), and the driver frees B's
//     copy once it drops the value (it opens B's store to see it).
// It prints "RESULT key=value" lines the test checks and "DONE" at the end;
// any unexpected exception ends it with exit code 1 and the message on stderr.
#include <polyray/api.h>
#include <polyray/store.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int64_t kTimeoutMs = 120000;  // every Get has a limit: a failure is never a hang

template <typename T>
void Out(const std::string& key, const T& value) {
  std::cout << "RESULT " << key << "=" << value << std::endl;
}

/// Whether `store` holds `ref`'s object, polled until it equals `want` or 10 s passed.
bool HoldsWithin(polyray::Store& store, const polyray::ObjectId& id, bool want) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (store.Contains(id) != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return store.Contains(id);
}

void SpillOver() {
  // Only B has "b": the head's raylet answers retry_at B.
  Out("pid_b", *polyray::Get(polyray::Task(polyray::CppFunction<int64_t>{"ClusterPid"}).SetResource("b", 1).Remote(),
                             kTimeoutMs));
  // The head has one CPU: the second of two tasks at once spills to B.
  auto started = std::chrono::steady_clock::now();
  auto first = polyray::Task(polyray::CppFunction<int64_t>{"ClusterSleepPid"}).Remote(int64_t{2000});
  auto second = polyray::Task(polyray::CppFunction<int64_t>{"ClusterSleepPid"}).Remote(int64_t{2000});
  int64_t a = *polyray::Get(first, kTimeoutMs);
  int64_t b = *polyray::Get(second, kTimeoutMs);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  Out("full_pids", std::to_string(a) + "," + std::to_string(b));
  Out("full_ms", ms.count());
}

void Pulls(const std::string& b_store) {
  // A 2 MB result made on B, pulled into the head's store by Get.
  auto made = polyray::Task(polyray::CppFunction<std::vector<double>>{"ClusterMake"}).SetResource("b", 1).Remote(
      int64_t{250000});
  std::vector<double> v = *polyray::Get(made, kTimeoutMs);
  double sum = 0;
  for (double x : v) sum += x;
  Out("pulled_size", v.size());
  Out("pulled_sum", static_cast<int64_t>(sum));

  // A 2 MB value put here, pulled to B by the C++ worker there.
  polyray::Store store = polyray::Store::Open(b_store);
  polyray::ObjectId id = polyray::ObjectId::FromBinary(std::string(28, '\0'));
  {
    polyray::ObjectRef<std::vector<double>> put = polyray::Put(std::vector<double>(250000, 1.5));
    id = polyray::ObjectId::FromBinary(put.entry()->object_id);
    auto sum_on_b = polyray::Task(polyray::CppFunction<double>{"ClusterSum"}).SetResource("b", 1).Remote(put);
    Out("pushed_sum", static_cast<int64_t>(*polyray::Get(sum_on_b, kTimeoutMs)));
    Out("copy_on_b", HoldsWithin(store, id, true) ? "true" : "false");
  }
  // The driver dropped its last reference: the owner frees every copy it knows of.
  Out("copy_on_b_after_drop", HoldsWithin(store, id, false) ? "true" : "false");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: cluster_driver <host:port> <store name of node B> <libcluster_funcs.so>\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  config.code_search_path = {argv[3]};
  try {
    polyray::Init(config);
    SpillOver();
    Pulls(argv[2]);
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "cluster_driver failed: " << e.what() << "\n";
    return 1;
  }
  std::cout << "DONE" << std::endl;
  return 0;
}

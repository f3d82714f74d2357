// A C++ driver of scheduling options, placement groups, several returns and first-error Get
// (tests/api/test_cpp_scheduling.py, issue 19 Deliver 4):
//   scheduling_driver <host:port> <libscheduling_funcs.so> <node B id (hex)>
// prints one JSON line of what it saw; every key is checked by the test.
#include <polyray/api.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Str = polyray::CppFunction<std::string>;
using Int = polyray::CppFunction<int64_t>;

std::map<std::string, std::string> out;

std::string Q(const std::string& s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    if (c == '\n') {
      r += "\\n";
      continue;
    }
    r += c;
  }
  return r + "\"";
}

void Put(const std::string& k, const std::string& v) { out[k] = Q(v); }
void PutRaw(const std::string& k, const std::string& v) { out[k] = v; }
void PutBool(const std::string& k, bool b) { out[k] = b ? "true" : "false"; }

/// The message of the std::invalid_argument `f` throws, or "NOT THROWN" / "OTHER: ...".
template <typename F>
std::string InvalidArgument(F f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("OTHER: ") + e.what();
  }
  return "NOT THROWN";
}

std::string Get(const polyray::ObjectRef<std::string>& r) { return *polyray::Get(r, 60000); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: scheduling_driver <host:port> <libscheduling_funcs.so> <node B id>\n";
    return 2;
  }
  polyray::Config config;
  config.address = argv[1];
  config.code_search_path.push_back(argv[2]);
  config.job_metadata = {{"team", "x"}};       // Ray's JobConfig(metadata=...)
  config.default_actor_lifetime = "detached";  // Ray's JobConfig(default_actor_lifetime=...)
  const std::string b = argv[3];
  try {
    polyray::Init(config);
    const std::string head = polyray::GetRuntimeContext().GetCurrentNodeId();
    Put("head", head);
    Put("job_id", polyray::GetRuntimeContext().GetCurrentJobId());
    // Named, no SetDetached: takes the job's default (detached); the unnamed one stays non-detached.
    polyray::Actor(polyray::CppActorClass{"Placed::Create", "Placed"}).SetName("jc_default").Remote();

    // Node affinity: tasks and actors (hard), and soft to a node that does not exist.
    Put("affinity_b", Get(polyray::Task(Str{"NodeOf"}).SetNodeAffinity(b).Remote()));
    Put("affinity_head", Get(polyray::Task(Str{"NodeOf"}).SetNodeAffinity(head).Remote()));
    auto actor_b = polyray::Actor(polyray::CppActorClass{"Placed::Create", "Placed"}).SetNodeAffinity(b).Remote();
    Put("actor_affinity_b", *polyray::Get(actor_b.Task(polyray::CppActorMethod<std::string>{"Node"}).Remote(), 60000));
    Put("soft_unknown",
        Get(polyray::Task(Str{"NodeOf"}).SetNodeAffinity(std::string(56, 'e'), true).Remote()));
    Put("bad_node_id", InvalidArgument([] { polyray::Task(Str{"NodeOf"}).SetNodeAffinity("not-hex"); }));

    // SPREAD: four naps at once land on both nodes.
    std::vector<polyray::ObjectRef<std::string>> spread;
    for (int i = 0; i < 4; i++) spread.push_back(polyray::Task(Str{"NapNode"}).SetSpread().Remote(int64_t{400}));
    std::set<std::string> nodes;
    for (const auto& v : polyray::Get(spread, 60000)) nodes.insert(*v);
    PutRaw("spread_nodes", std::to_string(nodes.size()));

    // Placement groups: STRICT_SPREAD over the two nodes, by name, tasks and an actor in bundles.
    polyray::PlacementGroupCreationOptions options{
        "cpp_pg", {{{"CPU", 1}}, {{"CPU", 1}}}, polyray::PlacementStrategy::STRICT_SPREAD};
    polyray::PlacementGroup pg = polyray::CreatePlacementGroup(options);
    Put("pg_id", pg.GetID());
    PutBool("pg_ready", pg.Wait(30));
    PutBool("pg_created", pg.GetState() == polyray::PlacementGroupState::CREATED);
    polyray::PlacementGroup by_name = polyray::GetPlacementGroup("cpp_pg");
    Put("pg_by_name", by_name.GetID());
    PutRaw("pg_by_name_bundles", std::to_string(by_name.GetBundles().size()));
    PutBool("pg_by_name_strategy", by_name.GetStrategy() == polyray::PlacementStrategy::STRICT_SPREAD);
    Put("pg_bundle0", Get(polyray::Task(Str{"NodeOf"}).SetPlacementGroup(pg, 0).Remote()));
    Put("pg_bundle1", Get(polyray::Task(Str{"NodeOf"}).SetPlacementGroup(by_name, 1).Remote()));
    auto in_pg = polyray::Actor(polyray::CppActorClass{"Placed::Create", "Placed"})
                     .SetResource("CPU", 1)
                     .SetPlacementGroup(pg, 1)
                     .Remote();
    Put("pg_actor", *polyray::Get(in_pg.Task(polyray::CppActorMethod<std::string>{"Node"}).Remote(), 60000));
    Put("pg_misfit", InvalidArgument([&] {
          polyray::Task(Str{"NodeOf"}).SetResource("CPU", 2).SetPlacementGroup(pg, 0).Remote();
        }));
    Put("pg_bad_index", InvalidArgument([&] { polyray::Task(Str{"NodeOf"}).SetPlacementGroup(pg, 2); }));
    Put("pg_empty", InvalidArgument([] { polyray::Task(Str{"NodeOf"}).SetPlacementGroup(polyray::PlacementGroup()); }));
    Put("pg_no_bundles", InvalidArgument([] {
          polyray::CreatePlacementGroup(polyray::PlacementGroupCreationOptions{"x", {}, polyray::PlacementStrategy::PACK});
        }));
    Put("pg_negative", InvalidArgument([] {
          polyray::CreatePlacementGroup(
              polyray::PlacementGroupCreationOptions{"x", {{{"CPU", 1}}, {{"CPU", -1}}}, polyray::PlacementStrategy::PACK});
        }));
    polyray::Kill(in_pg);
    polyray::RemovePlacementGroup(pg.GetID());
    PutBool("pg_removed", pg.GetState() == polyray::PlacementGroupState::REMOVED);
    PutBool("pg_removed_wait_false", !pg.Wait(1));
    try {
      polyray::GetPlacementGroup("cpp_pg");
      Put("pg_name_after_remove", "found");
    } catch (const polyray::Error& e) {
      Put("pg_name_after_remove", e.what());
    }
    // STRICT_PACK of more CPUs than any node has: pending, Wait gives up.
    polyray::PlacementGroup big = polyray::CreatePlacementGroup(
        {"", {{{"CPU", 2}}, {{"CPU", 2}}}, polyray::PlacementStrategy::STRICT_PACK});
    auto t0 = std::chrono::steady_clock::now();
    PutBool("big_wait", big.Wait(1));
    PutRaw("big_wait_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - t0).count()));
    PutBool("big_pending", big.GetState() == polyray::PlacementGroupState::PENDING);
    polyray::RemovePlacementGroup(big.GetID());

    // Several returns of a Python function and of a Python actor method; refused where they cannot be.
    auto dm = polyray::Task(polyray::PyFunction<int64_t>{"builtins", "divmod"}).SetNumReturns(2).RemoteMulti(
        int64_t{17}, int64_t{5});
    PutRaw("divmod", "[" + std::to_string(dm.size()) + ", " + std::to_string(*polyray::Get(dm.at(0), 60000)) + ", " +
                         std::to_string(*polyray::Get(dm.at(1), 60000)) + "]");
    auto frac = polyray::Actor(polyray::PyActorClass{"fractions", "Fraction"}).Remote(int64_t{3}, int64_t{4});
    auto ratio = frac.Task(polyray::PyActorMethod<int64_t>{"as_integer_ratio"}).SetNumReturns(2).RemoteMulti();
    PutRaw("ratio", "[" + std::to_string(*polyray::Get(ratio.at(0), 60000)) + ", " +
                        std::to_string(*polyray::Get(ratio.at(1), 60000)) + "]");
    Put("returns_cpp", InvalidArgument([] { polyray::Task(Int{"Nap"}).SetNumReturns(2).RemoteMulti(int64_t{1}); }));
    Put("returns_remote", InvalidArgument([] {
          polyray::Task(polyray::PyFunction<int64_t>{"builtins", "divmod"}).SetNumReturns(2).Remote(1, 2);
        }));
    Put("returns_zero", InvalidArgument([] { polyray::Task(polyray::PyFunction<int64_t>{"builtins", "abs"}).SetNumReturns(0); }));

    // Get of many refs: the first error wins, without waiting for the slow one.
    auto slow = polyray::Task(Int{"Nap"}).Remote(int64_t{8000});
    auto boom = polyray::Task(Int{"Boom"}).Remote();
    t0 = std::chrono::steady_clock::now();
    try {
      polyray::Get(std::vector<polyray::ObjectRef<int64_t>>{slow, boom}, 60000);
      Put("first_error", "none");
    } catch (const polyray::TaskException& e) {
      Put("first_error", e.message());
    }
    PutRaw("first_error_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::steady_clock::now() - t0).count()));
    polyray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "scheduling_driver failed: " << e.what() << std::endl;
    return 1;
  }
  std::string line = "{";
  for (const auto& [k, v] : out) line += (line.size() > 1 ? ", " : "") + Q(k) + ": " + v;
  std::cout << line << "}" << std::endl;
  return 0;
}

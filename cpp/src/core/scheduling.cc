// StrategyOf and CheckFitsBundle of scheduling.h.
#include "core/scheduling.h"

#include <sstream>
#include <vector>

namespace polyray::core {
namespace {

std::string Format(const std::map<std::string, double>& m) {
  std::ostringstream out;
  out << "{";
  bool first = true;
  for (const auto& [k, v] : m) {
    out << (first ? "" : ", ") << k << ": " << v;
    first = false;
  }
  out << "}";
  return out.str();
}

bool Fits(const std::map<std::string, double>& bundle, const std::map<std::string, double>& request) {
  for (const auto& [k, v] : request) {
    auto it = bundle.find(k);
    if ((it == bundle.end() ? 0.0 : it->second) < v) return false;
  }
  return true;
}

}  // namespace

namespace {

bool Labelled(const internal::SchedulingOptions& o) {
  return !o.label_selector.empty() || !o.fallback_strategy.empty();
}

void AddLabels(const internal::SchedulingOptions& o, rpc::SchedulingStrategy& s) {
  for (const auto& [k, v] : o.label_selector) (*s.mutable_label_selector())[k] = v;
  for (const auto& f : o.fallback_strategy) {
    auto* sel = s.add_fallback()->mutable_selector();
    for (const auto& [k, v] : f) (*sel)[k] = v;
  }
}

rpc::SchedulingStrategy KindOf(const internal::SchedulingOptions& o, const rpc::TaskSpec* running,
                               const rpc::TaskSpec* creation);

}  // namespace

rpc::SchedulingStrategy StrategyOf(const internal::SchedulingOptions& o, const rpc::TaskSpec* running,
                                   const rpc::TaskSpec* creation) {
  using Kind = internal::SchedulingOptions::Kind;
  rpc::SchedulingStrategy s;
  if (Labelled(o) && (o.kind == Kind::kDefault || o.kind == Kind::kSpread)) {
    // Label selectors are a strategy of the call's own: no capturing group is inherited.
    s.set_kind(o.kind == Kind::kSpread ? rpc::SCHEDULING_SPREAD : rpc::SCHEDULING_DEFAULT);
    AddLabels(o, s);
    return s;
  }
  return KindOf(o, running, creation);
}

namespace {

rpc::SchedulingStrategy KindOf(const internal::SchedulingOptions& o, const rpc::TaskSpec* running,
                               const rpc::TaskSpec* creation) {
  using Kind = internal::SchedulingOptions::Kind;
  rpc::SchedulingStrategy s;
  switch (o.kind) {
    case Kind::kSpread:
      s.set_kind(rpc::SCHEDULING_SPREAD);
      return s;
    case Kind::kNodeAffinity:
      s.set_kind(rpc::SCHEDULING_NODE_AFFINITY);
      s.set_node_id(o.node_id);
      s.set_soft(o.soft);
      return s;
    case Kind::kPlacementGroup:
      s.set_kind(rpc::SCHEDULING_PLACEMENT_GROUP);
      s.set_placement_group_id(o.placement_group_id);
      s.set_bundle_index(o.bundle_index);
      s.set_capture_child_tasks(o.capture_child_tasks);
      return s;
    default:
      break;
  }
  // No strategy of its own: an actor method's children look at the actor's.
  const rpc::TaskSpec* parent = running;
  if (parent == nullptr || parent->type() == rpc::ACTOR_TASK) parent = creation;
  if (parent != nullptr && parent->scheduling().kind() == rpc::SCHEDULING_PLACEMENT_GROUP &&
      parent->scheduling().capture_child_tasks()) {
    s.set_kind(rpc::SCHEDULING_PLACEMENT_GROUP);
    s.set_placement_group_id(parent->scheduling().placement_group_id());
    s.set_bundle_index(-1);
    s.set_capture_child_tasks(true);
    return s;
  }
  s.set_kind(rpc::SCHEDULING_DEFAULT);
  return s;
}

}  // namespace

std::string CheckFitsBundle(const internal::SchedulingOptions& o, const std::map<std::string, double>& resources,
                            const std::string& what) {
  using Kind = internal::SchedulingOptions::Kind;
  if (Labelled(o) && (o.kind == Kind::kNodeAffinity || o.kind == Kind::kPlacementGroup)) {
    return what + ": SetLabelSelector / SetFallbackStrategy go with the default or SetSpread strategy only, "
                  "not with a node affinity or a placement group";
  }
  if (o.kind != internal::SchedulingOptions::Kind::kPlacementGroup || o.bundles.empty()) return "";
  const int count = static_cast<int>(o.bundles.size());
  if (o.bundle_index < -1 || o.bundle_index >= count) {
    return what + ": bundle index " + std::to_string(o.bundle_index) + " is out of range for a placement group of " +
           std::to_string(count) + " bundle(s)";
  }
  std::vector<std::map<std::string, double>> candidates;
  if (o.bundle_index == -1) {
    candidates = o.bundles;
  } else {
    candidates.push_back(o.bundles[o.bundle_index]);
  }
  std::string listed;
  for (const auto& b : candidates) {
    if (Fits(b, resources)) return "";
    listed += (listed.empty() ? "" : ", ") + Format(b);
  }
  std::string where = o.bundle_index == -1 ? "none of its bundles" : "not bundle " + std::to_string(o.bundle_index);
  return what + " cannot be scheduled in its placement group: its resource request " + Format(resources) +
         " fits " + where + " (" + listed + ")";
}

}  // namespace polyray::core

// Placement groups from C++ (Ray's C++ names): reserve bundles of resources
// across nodes at once, then run tasks and actors inside them.
//
//   polyray::PlacementGroupCreationOptions options{"pg", {{{"CPU", 1}}, {{"CPU", 1}}},
//                                                  polyray::PlacementStrategy::STRICT_SPREAD};
//   polyray::PlacementGroup pg = polyray::CreatePlacementGroup(options);
//   if (pg.Wait(30)) polyray::Task(F).SetPlacementGroup(pg, 0).Remote();
//   polyray::RemovePlacementGroup(pg.GetID());
//
// The protocol is Python's (python/polyray/util/placement_group.py): the GCS
// RPCs CreatePlacementGroup, GetPlacementGroup (wait_until_created),
// RemovePlacementGroup and ListPlacementGroups (lookup by name).
//
// Invariants: a group is reserved whole or not at all; CreatePlacementGroup
// returns once the GCS recorded it (pending); bad options throw
// std::invalid_argument naming the field, before anything is sent.
#ifndef POLYRAY_PLACEMENT_GROUP_H_
#define POLYRAY_PLACEMENT_GROUP_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace polyray {

/// How a group's bundles are spread over nodes (polyray.rpc.PlacementStrategy).
enum class PlacementStrategy : int { PACK = 0, SPREAD = 1, STRICT_PACK = 2, STRICT_SPREAD = 3 };

/// A group's state at the GCS (polyray.rpc.PlacementGroupState).
enum class PlacementGroupState : int { PENDING = 0, CREATED = 1, REMOVED = 2 };

/// What CreatePlacementGroup reserves.
struct PlacementGroupCreationOptions {
  /// The group's name (GetPlacementGroup finds it); may be empty.
  std::string name;
  /// One map of resource -> amount per bundle; at least one bundle, each
  /// asking for some resource, no amount negative.
  std::vector<std::map<std::string, double>> bundles;
  PlacementStrategy strategy = PlacementStrategy::PACK;
  /// Outlives the job that created it (Python's lifetime="detached").
  bool detached = false;
};

/// A handle to a placement group. A default-constructed one is empty.
class PlacementGroup {
 public:
  PlacementGroup() = default;
  PlacementGroup(std::string id, PlacementGroupCreationOptions options)
      : id_(std::move(id)), options_(std::move(options)) {}

  /// The group id, hex (as Python's pg.id.hex() and `polyray list placement-groups`).
  const std::string& GetID() const { return id_; }
  const std::string& GetName() const { return options_.name; }
  const std::vector<std::map<std::string, double>>& GetBundles() const { return options_.bundles; }
  PlacementStrategy GetStrategy() const { return options_.strategy; }
  /// Whether this handle names no group.
  bool Empty() const { return id_.empty(); }
  /// True once every bundle is reserved; false when `timeout_seconds` pass
  /// first or the group was removed. Throws polyray::Error when the GCS
  /// cannot be asked.
  bool Wait(int timeout_seconds) const;
  /// The group's state now, as the GCS has it.
  PlacementGroupState GetState() const;

 private:
  std::string id_;
  PlacementGroupCreationOptions options_;
};

/// Asks the cluster to reserve `options.bundles` with `options.strategy`;
/// returns at once (Wait() for the reservation). std::invalid_argument for
/// bad options, polyray::Error when the GCS refuses or cannot be reached.
PlacementGroup CreatePlacementGroup(const PlacementGroupCreationOptions& options);

/// Releases the group (hex id, GetID()); tasks and actors running in it are
/// stopped. Removing a removed group does nothing.
void RemovePlacementGroup(const std::string& placement_group_id);

/// The group with this name that is not removed; polyray::Error when none.
PlacementGroup GetPlacementGroup(const std::string& name);

/// The group with this hex id; polyray::Error when the GCS has none.
PlacementGroup GetPlacementGroupById(const std::string& placement_group_id);

namespace internal {
/// Throws std::invalid_argument naming the field when `options` is unusable
/// ("PlacementGroupCreationOptions.bundles[1]: ...").
void CheckPlacementGroupOptions(const PlacementGroupCreationOptions& options);
/// Raw bytes of a hex id of `bytes` bytes; std::invalid_argument naming `what` otherwise.
std::string IdFromHex(const std::string& hex, size_t bytes, const std::string& what);
}  // namespace internal

}  // namespace polyray

#endif  // POLYRAY_PLACEMENT_GROUP_H_

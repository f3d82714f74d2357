package io.polyray.api.placement;

import io.polyray.api.PolyRay;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Creates, finds and removes placement groups (Ray's {@code PlacementGroups}).
 *
 * <pre>{@code
 * PlacementGroup pg = PlacementGroups.create(List.of(Map.of("CPU", 1.0), Map.of("CPU", 1.0)),
 *     PlacementStrategy.STRICT_SPREAD, "pair");
 * pg.wait(30);
 * PolyRay.task(MyTasks::work).setPlacementGroup(pg, 0).remote();
 * PlacementGroups.remove(pg);
 * }</pre>
 */
public final class PlacementGroups {
  private PlacementGroups() {}

  /**
   * Asks the cluster to reserve bundles with a strategy. Returns at once; use
   * {@link PlacementGroup#wait(double)} or {@link PlacementGroup#ready()}.
   *
   * @param bundles resource maps (name to a non-negative amount), each asking for something
   * @param strategy how bundles go to nodes
   * @return the group
   * @throws IllegalArgumentException naming {@code bundles} or {@code strategy} for bad input
   */
  public static PlacementGroup create(List<Map<String, Double>> bundles, PlacementStrategy strategy) {
    return create(bundles, strategy, "");
  }

  /**
   * As {@link #create(List, PlacementStrategy)}, with a name ({@link #get(String)} finds it).
   *
   * @param bundles resource maps
   * @param strategy how bundles go to nodes
   * @param name the name ("" or null: none)
   * @return the group
   */
  public static PlacementGroup create(List<Map<String, Double>> bundles, PlacementStrategy strategy, String name) {
    if (strategy == null) {
      throw new IllegalArgumentException("strategy must be PACK, SPREAD, STRICT_PACK or STRICT_SPREAD, got null");
    }
    List<Map<String, Double>> clean = checkBundles(bundles);
    return PolyRay.internal().createPlacementGroup(clean, strategy, name == null ? "" : name);
  }

  /**
   * The checked copy of bundles.
   *
   * @param bundles resource maps
   * @return a copy
   * @throws IllegalArgumentException naming {@code bundles} and the bundle's index
   */
  static List<Map<String, Double>> checkBundles(List<Map<String, Double>> bundles) {
    if (bundles == null || bundles.isEmpty()) {
      throw new IllegalArgumentException("bundles must be a non-empty list of resource maps, got "
          + (bundles == null ? "null" : "an empty list"));
    }
    List<Map<String, Double>> out = new ArrayList<>();
    for (int i = 0; i < bundles.size(); i++) {
      Map<String, Double> b = bundles.get(i);
      if (b == null || b.isEmpty()) {
        throw new IllegalArgumentException("bundles[" + i + "] must be a non-empty map of resource to amount, got "
            + b);
      }
      boolean some = false;
      for (Map.Entry<String, Double> e : b.entrySet()) {
        Double v = e.getValue();
        if (e.getKey() == null || e.getKey().isEmpty() || v == null || !(v >= 0) || v.isInfinite()) {
          throw new IllegalArgumentException("bundles[" + i + "]: resource " + e.getKey()
              + " must be a non-negative number, got " + v);
        }
        some |= v > 0;
      }
      if (!some) {
        throw new IllegalArgumentException("bundles[" + i + "] asks for no resource: " + b);
      }
      out.add(new LinkedHashMap<>(b));
    }
    return out;
  }

  /**
   * The live (pending or created) group of a name, made by any job.
   *
   * @param name the name
   * @return the group, or empty
   */
  public static Optional<PlacementGroup> get(String name) {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("name must not be empty");
    }
    return PolyRay.internal().getPlacementGroup(name);
  }

  /**
   * Releases the group's reservation; tasks and actors running in it are stopped.
   *
   * @param group the group
   */
  public static void remove(PlacementGroup group) {
    if (group == null) {
      throw new IllegalArgumentException("group must not be null");
    }
    PolyRay.internal().removePlacementGroup(group);
  }
}

package io.polyray.api.placement;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A placement group: bundles of resources the cluster reserves whole or not at all
 * ({@link PlacementGroups#create}). Until it is reserved it is pending: {@link #ready()}
 * does not resolve and {@link #wait(double)} returns false.
 */
public final class PlacementGroup {
  private final String id;
  private final String name;
  private final PlacementStrategy strategy;
  private final List<Map<String, Double>> bundles;

  /**
   * A handle (runtimes make them; use {@link PlacementGroups}).
   *
   * @param id the group's id in hex
   * @param name its name ("" when none)
   * @param strategy its strategy
   * @param bundles its bundles
   */
  public PlacementGroup(String id, String name, PlacementStrategy strategy, List<Map<String, Double>> bundles) {
    this.id = Objects.requireNonNull(id, "id");
    this.name = name == null ? "" : name;
    this.strategy = Objects.requireNonNull(strategy, "strategy");
    List<Map<String, Double>> copy = new ArrayList<>();
    for (Map<String, Double> b : bundles) {
      copy.add(Collections.unmodifiableMap(new LinkedHashMap<>(b)));
    }
    this.bundles = Collections.unmodifiableList(copy);
  }

  /**
   * The group's id.
   *
   * @return 36 hex digits
   */
  public String getId() {
    return id;
  }

  /**
   * The group's id (Ray's spelling is {@code getId()}; both work).
   *
   * @return 36 hex digits
   */
  public String id() {
    return id;
  }

  /**
   * The group's name.
   *
   * @return the name, "" when it has none
   */
  public String getName() {
    return name;
  }

  /**
   * The strategy.
   *
   * @return the strategy
   */
  public PlacementStrategy getStrategy() {
    return strategy;
  }

  /**
   * The bundles, in order.
   *
   * @return an unmodifiable list of resource maps
   */
  public List<Map<String, Double>> getBundles() {
    return bundles;
  }

  /**
   * How many bundles the group has.
   *
   * @return the count
   */
  public int getBundleCount() {
    return bundles.size();
  }

  /**
   * A reference whose value is true once the group is reserved; getting it throws if the
   * group is removed first.
   *
   * @return the reference
   */
  public ObjectRef<Boolean> ready() {
    return PolyRay.internal().placementGroupReady(this);
  }

  /**
   * Waits until the group is reserved.
   *
   * @param timeoutSeconds how long at most (0: just look)
   * @return true once reserved; false when the time passes first or the group was removed
   */
  public boolean wait(double timeoutSeconds) {
    if (!(timeoutSeconds >= 0) || Double.isInfinite(timeoutSeconds)) {
      throw new IllegalArgumentException("timeoutSeconds must be a non-negative number, got " + timeoutSeconds);
    }
    return PolyRay.internal().waitPlacementGroup(this, (long) (timeoutSeconds * 1000));
  }

  /**
   * Waits until the group is reserved (Ray's {@code PlacementGroup.wait(int)}). An int, not a
   * long: {@code wait(60L)} would be {@code Object.wait(long)}.
   *
   * @param timeoutSeconds how long at most (0: just look)
   * @return true once reserved; false when the time passes first or the group was removed
   */
  public boolean wait(int timeoutSeconds) {
    return wait((double) timeoutSeconds);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PlacementGroup && ((PlacementGroup) o).id.equals(id);
  }

  @Override
  public int hashCode() {
    return id.hashCode();
  }

  @Override
  public String toString() {
    return "PlacementGroup(" + id + (name.isEmpty() ? "" : ", " + name) + ", " + strategy + ", " + bundles + ")";
  }
}

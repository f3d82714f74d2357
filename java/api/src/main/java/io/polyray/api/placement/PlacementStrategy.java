package io.polyray.api.placement;

/** How a placement group's bundles are put on nodes (Ray's strategies). */
public enum PlacementStrategy {
  /** As few nodes as possible (best effort). */
  PACK,
  /** As many nodes as possible (best effort). */
  SPREAD,
  /** Every bundle on one node, or the group stays pending. */
  STRICT_PACK,
  /** Every bundle on a node of its own, or the group stays pending. */
  STRICT_SPREAD
}

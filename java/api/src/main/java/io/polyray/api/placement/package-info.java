/**
 * Placement groups, as Ray's Java API has them: {@link io.polyray.api.placement.PlacementGroups}
 * creates, finds and removes groups of resource bundles reserved across nodes at once;
 * {@code setPlacementGroup(group, bundleIndex)} on a task caller or actor creator runs it
 * in a bundle.
 */
package io.polyray.api.placement;

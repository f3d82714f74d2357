package io.polyray.api.placement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.api.spi.CallOptions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Scheduling options and placement-group input checks, at the call (no runtime). */
class SchedulingOptionsTest {
  private static final String NODE = "ab".repeat(28);
  private final PlacementGroup pg = new PlacementGroup("00".repeat(18), "g", PlacementStrategy.PACK,
      List.of(Map.of("CPU", 1.0), Map.of("CPU", 2.0)));

  private static String message(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  @Test
  void nodeAffinityTakesAHexNodeIdAndNamesTheFieldOtherwise() {
    CallOptions o = new CallOptions();
    o.setNodeAffinity(NODE.toUpperCase(), true);
    assertEquals(CallOptions.Scheduling.NODE_AFFINITY, o.getScheduling());
    assertEquals(NODE, o.getNodeId());
    assertTrue(o.isSoft());
    for (String bad : new String[] {null, "", "abc", "zz".repeat(28), NODE + "00"}) {
      assertTrue(message(() -> new CallOptions().setNodeAffinity(bad, false)).startsWith("nodeId "), bad);
    }
  }

  @Test
  void theLastStrategySetWins() {
    CallOptions o = new CallOptions();
    o.setNodeAffinity(NODE, false);
    o.setSpread();
    assertEquals(CallOptions.Scheduling.SPREAD, o.getScheduling());
    assertEquals("", o.getNodeId());
    o.setPlacementGroup(pg, 1, true);
    assertEquals(CallOptions.Scheduling.PLACEMENT_GROUP, o.getScheduling());
    assertEquals(1, o.getBundleIndex());
    assertTrue(o.isCaptureChildTasks());
    o.setSpread();
    assertNull(o.getPlacementGroup());
    assertEquals(-1, o.getBundleIndex());
  }

  @Test
  void bundleIndexMustBeAnyOrOneOfTheGroups() {
    CallOptions o = new CallOptions();
    o.setPlacementGroup(pg, -1, false);
    assertEquals(-1, o.getBundleIndex());
    assertTrue(message(() -> o.setPlacementGroup(pg, -2, false)).startsWith("bundleIndex "));
    assertTrue(message(() -> o.setPlacementGroup(pg, 2, false)).startsWith("bundleIndex "));
    assertTrue(message(() -> o.setPlacementGroup(null, 0, false)).startsWith("placementGroup "));
  }

  @Test
  void bundlesAreCheckedNamingTheBundle() {
    assertTrue(message(() -> PlacementGroups.checkBundles(List.of())).startsWith("bundles must be a non-empty"));
    assertTrue(message(() -> PlacementGroups.checkBundles(null)).startsWith("bundles must be a non-empty"));
    assertTrue(message(() -> PlacementGroups.checkBundles(List.of(Map.of("CPU", 1.0), Map.of())))
        .startsWith("bundles[1] "));
    assertTrue(message(() -> PlacementGroups.checkBundles(List.of(Map.of("CPU", -1.0)))).startsWith("bundles[0]: "));
    assertTrue(message(() -> PlacementGroups.checkBundles(List.of(Map.of("CPU", 0.0)))).contains("asks for no"));
    assertEquals(2, PlacementGroups.checkBundles(List.of(Map.of("CPU", 1.0), Map.of("GPU", 0.5))).size());
    assertTrue(message(() -> PlacementGroups.create(List.of(Map.of("CPU", 1.0)), null)).startsWith("strategy "));
  }

  @Test
  void numReturnsIsBounded() {
    CallOptions o = new CallOptions();
    assertEquals(1, o.getNumReturns());
    o.setNumReturns(3);
    assertEquals(3, o.getNumReturns());
    assertTrue(message(() -> o.setNumReturns(0)).startsWith("numReturns "));
    assertTrue(message(() -> o.setNumReturns(CallOptions.MAX_NUM_RETURNS + 1)).startsWith("numReturns "));
  }

  @Test
  void aGroupIsEqualByIdAndKeepsItsBundles() {
    PlacementGroup same = new PlacementGroup(pg.getId(), "", PlacementStrategy.SPREAD, List.of(Map.of("CPU", 1.0)));
    assertEquals(pg, same);
    assertEquals(2, pg.getBundleCount());
    assertEquals(pg.getId(), pg.id());
    assertThrows(UnsupportedOperationException.class, () -> pg.getBundles().get(0).put("GPU", 1.0));
  }
}

package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.api.spi.CallOptions;
import io.polyray.runtime.proto.SchedulingKind;
import io.polyray.runtime.proto.SchedulingStrategy;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * setLabelSelector / setFallbackStrategy travel in the SchedulingStrategy as a Python
 * caller's label_selector / fallback_strategy do (python/polyray/options.py apply_labels).
 */
class LabelSelectorTest {
  @Test
  void selectorAndFallbacksTravelInOrderWithDefaultAndSpread() {
    CallOptions o = new CallOptions();
    Map<String, String> sel = new LinkedHashMap<>();
    sel.put("zone", "in(a,b)");
    sel.put("polyray.io/node-id", "!abc");
    o.setLabelSelector(sel);
    o.setFallbackStrategy(List.of(Map.of("zone", "c"), Map.of("tier", "!slow")));
    SchedulingStrategy s = SchedulingStrategies.of(o, null);
    assertEquals(SchedulingKind.SCHEDULING_DEFAULT, s.getKind());
    assertEquals(sel, s.getLabelSelectorMap());
    assertEquals(2, s.getFallbackCount());
    assertEquals(Map.of("zone", "c"), s.getFallback(0).getSelectorMap());
    assertEquals(Map.of("tier", "!slow"), s.getFallback(1).getSelectorMap());
    o.setSpread();
    SchedulingStrategy spread = SchedulingStrategies.of(o, null);
    assertEquals(SchedulingKind.SCHEDULING_SPREAD, spread.getKind());
    assertEquals(sel, spread.getLabelSelectorMap());
    assertTrue(SchedulingStrategies.of(new CallOptions(), null).getLabelSelectorMap().isEmpty());
  }

  @Test
  void malformedSelectorsAndAffinityWithSelectorsAreRefused() {
    CallOptions o = new CallOptions();
    assertThrows(IllegalArgumentException.class, () -> o.setLabelSelector(Map.of("zone", "in()")));
    assertThrows(IllegalArgumentException.class, () -> o.setLabelSelector(Map.of("bad key!", "a")));
    assertThrows(IllegalArgumentException.class, () -> o.setLabelSelector(Map.of("zone", "a b")));
    assertThrows(IllegalArgumentException.class, () -> o.setFallbackStrategy(null));
    o.setLabelSelector(Map.of("zone", "a"));
    o.setNodeAffinity("ab".repeat(28), true);
    String why = assertThrows(IllegalArgumentException.class, () -> SchedulingStrategies.of(o, null)).getMessage();
    assertTrue(why.contains("default or SPREAD"), why);
  }
}

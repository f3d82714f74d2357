package io.polyray.api.call;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.api.spi.CallOptions;
import io.polyray.api.spi.FunctionSpec;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Concurrency-group options of actor creators and actor calls, checked at the setter (no runtime). */
class ConcurrencyGroupOptionsTest {
  private static final FunctionSpec CTOR =
      FunctionSpec.java(FunctionSpec.Kind.ACTOR_CREATION, "parity.Grouped", "<init>", "()V", Object.class);
  private static final FunctionSpec METHOD =
      FunctionSpec.java(FunctionSpec.Kind.ACTOR_METHOD, "parity.Grouped", "fast", "()J", Long.class);

  private static String message(Runnable r) {
    return assertThrows(IllegalArgumentException.class, r::run).getMessage();
  }

  private static Map<String, Integer> groups(Object... kv) {
    Map<String, Integer> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], (Integer) kv[i + 1]);
    }
    return m;
  }

  @Test
  void groupsAreKeptInOrderAndReplacedBySetsAfter() {
    CallOptions o = new CallOptions();
    assertTrue(o.getConcurrencyGroups().isEmpty());
    o.setConcurrencyGroups(groups("slow", 1, "quick", 2));
    assertEquals(List.of("slow", "quick"), List.copyOf(o.getConcurrencyGroups().keySet()));
    assertEquals(2, o.getConcurrencyGroups().get("quick"));
    o.setConcurrencyGroups(groups("io", 4));
    assertEquals(Map.of("io", 4), o.getConcurrencyGroups());
    assertThrows(UnsupportedOperationException.class, () -> o.getConcurrencyGroups().put("x", 1));
  }

  @Test
  void badGroupsNameTheFieldAndLeaveTheGroupsSetBefore() {
    CallOptions o = new CallOptions();
    o.setConcurrencyGroups(groups("slow", 1));
    Map<String, Integer> nullName = new HashMap<>();
    nullName.put(null, 1);
    for (Map<String, Integer> bad : List.of(groups("", 1), nullName, groups("ok", 1, "zero", 0),
        groups("neg", -3), groups("none", null))) {
      assertTrue(message(() -> o.setConcurrencyGroups(bad)).startsWith("concurrencyGroups"), bad.toString());
    }
    assertTrue(message(() -> o.setConcurrencyGroups(null)).startsWith("concurrencyGroups"));
    assertTrue(message(() -> o.setConcurrencyGroups(groups("zero", 0))).contains("'zero'"));
    assertEquals(Map.of("slow", 1), o.getConcurrencyGroups());
  }

  @Test
  void aCallsGroupDefaultsToTheDefaultGroupAndMustNotBeEmpty() {
    CallOptions o = new CallOptions();
    assertEquals("", o.getConcurrencyGroup());
    o.setConcurrencyGroup("slow");
    assertEquals("slow", o.getConcurrencyGroup());
    assertTrue(message(() -> o.setConcurrencyGroup("")).startsWith("concurrencyGroup "));
    assertTrue(message(() -> o.setConcurrencyGroup(null)).startsWith("concurrencyGroup "));
    assertEquals("slow", o.getConcurrencyGroup());
  }

  @Test
  void theSettersOfCreatorsAndCallersCheckAtTheSetter() {
    ActorCreator<io.polyray.api.BaseActorHandle> creator = new ActorCreator<>(CTOR, new Object[0]);
    assertSame(creator, creator.setConcurrencyGroups(groups("slow", 1)));
    assertTrue(message(() -> creator.setConcurrencyGroups(groups("slow", 0))).startsWith("concurrencyGroups"));
    ActorTaskCaller<Long> call = new ActorTaskCaller<>(null, METHOD, new Object[0]);
    assertSame(call, call.setConcurrencyGroup("slow"));
    assertTrue(message(() -> call.setConcurrencyGroup("")).startsWith("concurrencyGroup "));
  }
}

package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.api.ActorLifetime;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.spi.CallOptions;
import io.polyray.runtime.proto.JobInfo;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** PolyRayConfig's job metadata and default actor lifetime (Ray's JobConfig), and the JobInfo a Java driver registers. */
class JobConfigTest {
  @Test
  void settersValidateAndCopy() {
    PolyRayConfig c = new PolyRayConfig();
    assertTrue(c.getJobMetadata().isEmpty());
    assertNull(c.getDefaultActorLifetime());
    Map<String, String> m = new HashMap<>(Map.of("team", "x"));
    c.setJobMetadata(m);
    m.put("later", "y");  // the config keeps a copy
    assertEquals(Map.of("team", "x"), c.getJobMetadata());
    assertThrows(UnsupportedOperationException.class, () -> c.getJobMetadata().put("a", "b"));
    Map<String, String> nullValue = new HashMap<>();
    nullValue.put("k", null);
    assertThrows(IllegalArgumentException.class, () -> c.setJobMetadata(nullValue));
    assertThrows(IllegalArgumentException.class, () -> c.setJobMetadata(Map.of("", "v")));
    assertEquals(Map.of("team", "x"), c.getJobMetadata());  // a refused call changes nothing
    assertTrue(c.setJobMetadata(null).getJobMetadata().isEmpty());
    assertThrows(IllegalArgumentException.class, () -> c.setDefaultActorLifetime(null));
    assertEquals(ActorLifetime.DETACHED, c.setDefaultActorLifetime(ActorLifetime.DETACHED).getDefaultActorLifetime());
  }

  @Test
  void jobInfoCarriesMetadataAndLifetime() {
    PolyRayConfig c = new PolyRayConfig().setNamespace("ns").setJobMetadata(Map.of("team", "x", "run", "7"))
        .setDefaultActorLifetime(ActorLifetime.DETACHED);
    JobInfo job = DriverRuntime.jobInfo(c, List.of("/cp"), "java Main");
    assertEquals(Map.of("team", "x", "run", "7"), job.getMetadataMap());
    assertEquals("detached", job.getDefaultActorLifetime());
    assertEquals("ns", job.getNamespace());
    assertEquals(List.of("/cp"), job.getCodeSearchPathList());
    JobInfo nd = DriverRuntime.jobInfo(c.setDefaultActorLifetime(ActorLifetime.NON_DETACHED), List.of(), "java M");
    assertEquals("non_detached", nd.getDefaultActorLifetime());
    JobInfo unset = DriverRuntime.jobInfo(new PolyRayConfig(), List.of(), "java M");
    assertEquals("", unset.getDefaultActorLifetime());  // as a Python worker reads it: non-detached
    assertTrue(unset.getMetadataMap().isEmpty());
  }

  @Test
  void callOptionsTellAnUnsetLifetime() {
    CallOptions o = new CallOptions();
    assertEquals(ActorLifetime.NON_DETACHED, o.getLifetime());
    assertTrue(!o.isLifetimeSet());
    o.setLifetime(ActorLifetime.NON_DETACHED);
    assertTrue(o.isLifetimeSet());
    o.setLifetime(null);
    assertTrue(!o.isLifetimeSet());
  }
}

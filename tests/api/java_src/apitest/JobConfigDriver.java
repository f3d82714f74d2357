package apitest;

import io.polyray.api.ActorHandle;
import io.polyray.api.ActorLifetime;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import java.util.List;
import java.util.Map;

/**
 * A Java driver for tests/api/test_api_parity_java.py (PolyRayConfig as Ray's JobConfig): joins
 * the test's cluster in namespace "jobcfg" with job metadata {team: x} and default actor
 * lifetime DETACHED; creates "jc-driver" (named, no lifetime), "jc-explicit" (named,
 * NON_DETACHED) and, in a Java task (a worker of this job), "jc-worker" (named, no lifetime);
 * prints RESULT ok and exits, which ends its job.
 *
 * <p>Arguments: the GCS address, the code search path (this class's folder).
 */
public final class JobConfigDriver {
  private JobConfigDriver() {}

  /**
   * Run in a Java worker: creates a named Napper without a lifetime and waits until it answers.
   *
   * @param name the actor's name
   * @return the name
   */
  public static String makeNamed(String name) {
    ActorHandle<Napper> a = PolyRay.actor(Napper::new).setName(name).remote();
    PolyRay.get(a.task(Napper::mostInFlight).remote(), 60_000);
    return name;
  }

  public static void main(String[] args) {
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(List.of(args[1]))
        .setNamespace("jobcfg").setJobMetadata(Map.of("team", "x"))
        .setDefaultActorLifetime(ActorLifetime.DETACHED));
    try {
      ActorHandle<Napper> d = PolyRay.actor(Napper::new).setName("jc-driver").remote();
      ActorHandle<Napper> e = PolyRay.actor(Napper::new).setName("jc-explicit")
          .setLifetime(ActorLifetime.NON_DETACHED).remote();
      PolyRay.get(List.of(d.task(Napper::mostInFlight).remote(), e.task(Napper::mostInFlight).remote()), 60_000);
      String w = PolyRay.get(PolyRay.task(JobConfigDriver::makeNamed, "jc-worker").remote(), 60_000);
      System.out.println("RESULT ok " + w);
    } finally {
      PolyRay.shutdown();
    }
  }
}

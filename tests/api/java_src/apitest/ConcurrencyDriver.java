package apitest;

import io.polyray.api.ActorHandle;
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * A Java driver for tests/api/test_java_concurrency.py: joins the test's cluster, creates
 * a Napper with setMaxConcurrency(4) and one with the default, and prints how long 4 naps
 * took on each, and what an async method's future gave.
 *
 * <p>Arguments: the GCS address, the code search path (this class's folder).
 */
public final class ConcurrencyDriver {
  private ConcurrencyDriver() {}

  private static long naps(ActorHandle<Napper> a, long ms) {
    long t0 = System.nanoTime();
    List<ObjectRef<Long>> refs = new ArrayList<>();
    for (long i = 0; i < 4; i++) {
      refs.add(a.task(Napper::nap, i, ms).remote());
    }
    List<Long> got = PolyRay.get(refs, 90_000);
    if (!got.equals(List.of(0L, 1L, 2L, 3L))) {
      throw new IllegalStateException("naps returned " + got);
    }
    return (System.nanoTime() - t0) / 1_000_000;
  }

  public static void main(String[] args) {
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(List.of(args[1])));
    try {
      ActorHandle<Napper> four = PolyRay.actor(Napper::new).setMaxConcurrency(4).remote();
      ActorHandle<Napper> one = PolyRay.actor(Napper::new).remote();
      PolyRay.get(four.task(Napper::mostInFlight).remote(), 90_000);
      PolyRay.get(one.task(Napper::mostInFlight).remote(), 90_000);
      System.out.println("RESULT four_ms=" + naps(four, 1000));
      System.out.println("RESULT one_ms=" + naps(one, 300));
      // An async method's reference is typed by its future: get gives a completed one.
      java.util.concurrent.CompletableFuture<Long> f =
          PolyRay.get(four.task(Napper::asyncNap, 42L, 10L).remote(), 90_000);
      System.out.println("RESULT async=" + f.join());
    } finally {
      PolyRay.shutdown();
    }
  }
}

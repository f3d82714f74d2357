package scaledrv;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyActorClass;
import io.polyray.api.PyActorHandle;
import io.polyray.api.PyActorMethod;
import io.polyray.api.exception.GetTimeoutException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * args: <code search path dir>. A Java driver's get of objects a Python worker owns
 * (docs/ownership.md, "Local reads"): prints PID, waits for "stopped" on stdin (the owner
 * SIGSTOPped), gets the stored ones (local reads) and the inline one (owner path), then waits
 * for "killed" and gets the stored ones until that raises. Every wait bounded.
 */
public final class LocalReads {
  private LocalReads() {}

  @SuppressWarnings("unchecked")
  private static List<ObjectRef<byte[]>> refs(Object raw) {
    List<ObjectRef<byte[]>> out = new ArrayList<>();
    for (Object r : (List<?>) raw) {
      out.add((ObjectRef<byte[]>) r);
    }
    return out;
  }

  private static boolean expected(List<byte[]> values, int size) {
    for (int i = 0; i < values.size(); i++) {
      byte[] v = values.get(i);
      if (v.length != size || v[0] != (byte) (i % 251) || v[size - 1] != (byte) (i % 251)) {
        return false;
      }
    }
    return true;
  }

  public static void main(String[] args) throws Exception {
    int n = 12;
    int size = 100 * 1024;
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PolyRay.init(new PolyRayConfig().setCodeSearchPath(List.of(args[0])));
    try {
      PyActorHandle owner = PolyRay.actor(PyActorClass.of("early_reads_mod", "Owner")).remote();
      long pid = PolyRay.get(owner.task(PyActorMethod.of("pid", Long.class)).remote(), 60_000);
      List<ObjectRef<byte[]>> stored = refs(PolyRay.get(owner.task(PyActorMethod.of("put_many", List.class), n, size)
          .remote(), 60_000));
      List<ObjectRef<byte[]>> small = refs(PolyRay.get(owner.task(PyActorMethod.of("put_small", List.class))
          .remote(), 60_000));
      System.out.println("PID " + pid);
      System.out.flush();
      if (!"stopped".equals(in.readLine())) {
        throw new IllegalStateException("expected 'stopped' on stdin");
      }
      long t0 = System.nanoTime();
      List<byte[]> values = PolyRay.get(stored, 5_000);
      byte[] one = PolyRay.get(stored.get(4), 5_000);
      long localMs = (System.nanoTime() - t0) / 1_000_000;
      boolean ok = expected(values, size) && one.length == size && one[0] == 4;
      boolean askedTimedOut = false;
      try {
        PolyRay.get(small.get(0), 500);
      } catch (GetTimeoutException e) {
        askedTimedOut = true; // the owner really does not answer
      }
      System.out.println("LOCAL n=" + values.size() + " ok=" + ok + " ms=" + localMs + " asked_timed_out="
          + askedTimedOut);
      System.out.flush();
      if (!"killed".equals(in.readLine())) {
        throw new IllegalStateException("expected 'killed' on stdin");
      }
      long t1 = System.nanoTime();
      String error = "none";
      while (System.nanoTime() - t1 < 10_000_000_000L) {
        try {
          PolyRay.get(stored, 2_000);
          Thread.sleep(50);
        } catch (RuntimeException e) {
          error = e.getClass().getSimpleName();
          break;
        }
      }
      System.out.println("DEAD error=" + error + " ms=" + (System.nanoTime() - t1) / 1_000_000);
      System.out.flush();
    } finally {
      PolyRay.shutdown();
    }
  }
}

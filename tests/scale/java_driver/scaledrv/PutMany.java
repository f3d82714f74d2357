package scaledrv;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyFunction;
import java.util.ArrayList;
import java.util.List;

/**
 * args: code search path dir. Puts 100 KiB values and hands each to a Python task right away
 * (its pin maybe still in flight), times 1,000 held puts, then drops every ref and waits for
 * the store to empty. Prints one RESULT line.
 */
public final class PutMany {
  private PutMany() {}

  private static byte[] value(int i) {
    byte[] b = new byte[100 * 1024 + 1];
    b[0] = (byte) (i % 100);
    b[b.length - 1] = 1;
    return b;
  }

  public static void main(String[] args) throws Exception {
    PolyRay.init(new PolyRayConfig().setCodeSearchPath(List.of(args[0])));
    try {
      List<ObjectRef<Long>> sums = new ArrayList<>();
      List<ObjectRef<byte[]>> puts = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        ObjectRef<byte[]> r = PolyRay.put(value(i));
        puts.add(r);
        sums.add(PolyRay.task(PyFunction.of("scale_mod", "total", Long.class), r).remote());
      }
      List<Long> got = PolyRay.get(sums, 120_000);
      int wrong = 0;
      for (int i = 0; i < got.size(); i++) {
        if (got.get(i) != i % 100 + 1) {
          wrong++;
        }
      }
      byte[] back = PolyRay.get(puts.get(199), 30_000);
      if (back[0] != (byte) (199 % 100)) {
        wrong++;
      }
      puts.clear();
      sums.clear();
      byte[] big = value(7);
      double best = Double.MAX_VALUE;
      for (int round = 0; round < 3; round++) {
        List<ObjectRef<byte[]>> held = new ArrayList<>();
        long t = System.nanoTime();
        for (int i = 0; i < 1000; i++) {
          held.add(PolyRay.put(big));
        }
        best = Math.min(best, (System.nanoTime() - t) / 1e3 / 1000);
        held.clear();
      }
      for (int i = 0; i < 300; i++) {
        PolyRay.put(big); // dropped at once, its pin queued or in flight
      }
      long left = -1;
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (System.nanoTime() < deadline) {
        System.gc();
        Thread.sleep(200);
        left = PolyRay.get(PolyRay.task(PyFunction.of("scale_mod", "store_objects", Long.class)).remote(), 30_000);
        if (left == 0) {
          break;
        }
      }
      System.out.println("RESULT wrong=" + wrong + " put_us=" + String.format("%.1f", best) + " left=" + left);
    } finally {
      PolyRay.shutdown();
    }
  }
}

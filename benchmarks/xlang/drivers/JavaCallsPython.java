import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PyActorClass;
import io.polyray.api.PyActorHandle;
import io.polyray.api.PyActorMethod;
import java.util.ArrayList;
import java.util.List;

/**
 * The "Java -> Python actor calls async" row of python/polyray/bench.py: a Java
 * driver joins the benchmark's cluster and times batches of calls to a Python
 * actor (polyray.bench.Actor.small_value) the way bench.timeit does — a warm-up
 * of {@code duration}, then {@code repeat} timed runs — and prints one line
 * "runs r1 r2 ..." with the rates in calls/s.
 *
 * <p>Usage: {@code java -cp <sdk>:<dir> JavaCallsPython <gcs address> <batch> <repeat> <duration s>}
 */
public final class JavaCallsPython {
  public static void main(String[] args) {
    String address = args[0];
    int batch = Integer.parseInt(args[1]);
    int repeat = Integer.parseInt(args[2]);
    double duration = Double.parseDouble(args[3]);
    PolyRay.init(address);
    try {
      PyActorHandle actor = PolyRay.actor(PyActorClass.of("polyray.bench", "Actor")).remote();
      PyActorMethod<byte[]> small = PyActorMethod.of("small_value", byte[].class);
      Runnable oneBatch = () -> {
        List<ObjectRef<byte[]>> refs = new ArrayList<>(batch);
        for (int i = 0; i < batch; i++) {
          refs.add(actor.task(small).remote());
        }
        PolyRay.get(refs);
      };
      long calls = warmUp(oneBatch, duration);
      long step = calls / 10 + 1;
      StringBuilder out = new StringBuilder("runs");
      for (int r = 0; r < repeat; r++) {
        long start = System.nanoTime();
        long n = 0;
        while ((System.nanoTime() - start) / 1e9 < duration) {
          for (long i = 0; i < step; i++) {
            oneBatch.run();
          }
          n += step;
        }
        double rate = (double) n * batch / ((System.nanoTime() - start) / 1e9);
        out.append(' ').append(rate);
      }
      System.out.println(out);
    } finally {
      PolyRay.shutdown();
    }
  }

  private static long warmUp(Runnable batch, double duration) {
    long start = System.nanoTime();
    long n = 0;
    while ((System.nanoTime() - start) / 1e9 < duration) {
      batch.run();
      n++;
    }
    return n;
  }
}

package scaledrv;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyFunction;
import java.util.ArrayList;
import java.util.List;

/** args: n <code search path dir>: gets n refs owned by one Python worker, prints the time. */
public final class GetMany {
  private GetMany() {}

  public static void main(String[] args) {
    int n = Integer.parseInt(args[0]);
    PolyRay.init(new PolyRayConfig().setCodeSearchPath(List.of(args[1])));
    try {
      List<?> raw = PolyRay.get(PolyRay.task(PyFunction.of("scale_mod", "put_many", List.class), n).remote(), 120_000);
      List<ObjectRef<Long>> refs = new ArrayList<>();
      for (Object r : raw) {
        @SuppressWarnings("unchecked")
        ObjectRef<Long> ref = (ObjectRef<Long>) r;
        refs.add(ref);
      }
      long started = System.nanoTime();
      List<Long> values = PolyRay.get(refs, 120_000);
      double took = (System.nanoTime() - started) / 1e9;
      long sum = 0;
      for (Long v : values) {
        sum += v;
      }
      System.out.println("RESULT n=" + values.size() + " sum=" + sum + " seconds=" + took);
    } finally {
      PolyRay.shutdown();
    }
  }
}

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

/**
 * Memory per held ref in a Java driver (issue 14, Deliver 6; the Java twin of
 * benchmarks/ref_memory.py): puts {@code refs} small values (a Long each) and keeps every
 * ObjectRef in a list; prints the growth of the JVM's used heap after a collection (what a
 * held put ref costs: the ObjectRef and its Cleaner, its record in the ReferenceCounter,
 * its MemoryStore entry and the list slot) and of the process's RSS, per ref.
 *
 * <p>{@code .venv/bin/python benchmarks/ref_memory.py --lang java [--refs 1000000]} compiles
 * and runs it.
 */
public final class RefMemory {
  private RefMemory() {}

  private static long usedHeap() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  private static long rss() throws java.io.IOException {
    String[] statm = new String(java.nio.file.Files.readAllBytes(java.nio.file.Paths.get("/proc/self/statm")))
        .trim().split(" ");
    return Long.parseLong(statm[1]) * 4096L;
  }

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    PolyRay.init(new PolyRayConfig().setNumCpus(1));
    try {
      List<ObjectRef<Long>> warm = new ArrayList<>();
      for (long i = 0; i < 1000; i++) {
        warm.add(PolyRay.put(i));
      }
      warm = null;
      long heapBefore = usedHeap();
      long rssBefore = rss();
      long start = System.nanoTime();
      List<ObjectRef<Long>> refs = new ArrayList<>(n);
      for (long i = 0; i < n; i++) {
        refs.add(PolyRay.put(i));
      }
      double took = (System.nanoTime() - start) / 1e9;
      long heapAfter = usedHeap();
      long rssAfter = rss();
      System.out.printf("%d put refs held: %.1f s, heap +%.0f MiB, %.0f B per ref (heap), %.0f B per ref (RSS)%n",
          n, took, (heapAfter - heapBefore) / 1048576.0, (double) (heapAfter - heapBefore) / n,
          (double) (rssAfter - rssBefore) / n);
      System.out.flush();
      if (refs.size() != n) {
        throw new IllegalStateException("lost refs");
      }
    } finally {
      PolyRay.shutdown();
    }
  }
}

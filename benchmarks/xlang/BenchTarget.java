package polyraybench;

/**
 * The Java side of the cross-language benchmark rows (python/polyray/bench.py):
 * the smallest task and actor call, and a reader of a large array. Plain Java
 * with no SDK import, so Ray's Java worker runs the same class.
 */
public class BenchTarget {
  private static final byte[] OK = {'o', 'k'};

  /** The cross-language counterpart of the Python rows' small_value task. */
  public static byte[] smallValue() {
    return OK;
  }

  /** Reads every element, so the row measures reaching the data, not just the call. */
  public static long sum(long[] values) {
    long s = 0;
    for (long v : values) {
      s += v;
    }
    return s;
  }
}

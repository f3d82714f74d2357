package scaletest;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import java.util.ArrayList;
import java.util.List;

/** A Java task that owns many objects: it puts n values and returns their refs. */
public final class Owners {
  private Owners() {}

  public static List<ObjectRef<Long>> putMany(long n) {
    List<ObjectRef<Long>> refs = new ArrayList<>();
    for (long i = 0; i < n; i++) {
      refs.add(PolyRay.put(i));
    }
    return refs;
  }

  /**
   * The reference protocol's cluster test: returns the refs it was given (borrowed,
   * passed through) and n new ones it owns (values base, base + 1, ...).
   */
  public static List<ObjectRef<Long>> relay(List<ObjectRef<Long>> refs, long n, long base) {
    List<ObjectRef<Long>> out = new ArrayList<>(refs);
    for (long i = 0; i < n; i++) {
      out.add(PolyRay.put(base + i));
    }
    return out;
  }
}

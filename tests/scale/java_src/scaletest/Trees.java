package scaletest;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;

/** The blocked-tree test: a task that submits two children and blocks in get for both. */
public final class Trees {
  private Trees() {}

  public static long tree(long depth) {
    if (depth == 0) {
      return 1;
    }
    ObjectRef<Long> a = PolyRay.task(Trees::tree, depth - 1).remote();
    ObjectRef<Long> b = PolyRay.task(Trees::tree, depth - 1).remote();
    return 1 + PolyRay.get(a, 120_000) + PolyRay.get(b, 120_000);
  }
}

package obstest;

import io.polyray.api.CppFunction;
import io.polyray.api.PolyRay;

/** The Java hop of a Python -> Java -> C++ chain (tests/observability). */
public class Hop {
  /** Calls the C++ function Plus1(x) from inside this Java task. */
  public static long toCpp(long x) {
    return PolyRay.get(PolyRay.task(CppFunction.of("Plus1", Long.class), x).remote(), 90_000);
  }

  /** Always throws. */
  public static long fail(long x) {
    throw new IllegalStateException("java failure " + x);
  }
}

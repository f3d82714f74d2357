package obstest;

/** A Java task that returns at once and owns nothing (tests/observability/test_exit_flush.py). */
public class Quick {
  /** x + 1. */
  public static long plus1(long x) {
    return x + 1;
  }
}

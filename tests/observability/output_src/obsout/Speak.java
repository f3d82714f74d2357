package obsout;

/** A Java task that prints, for tests/observability/test_output.py. */
public final class Speak {
  private Speak() {}

  /** Prints n lines "line-i" on stdout and returns n. */
  public static long speak(long n) {
    for (long i = 0; i < n; i++) {
      System.out.println("line-" + i);
    }
    return n;
  }
}

package warmtest;

/** A Java actor for tests/chaos/test_java_warm_idle.py: says its worker's pid, answers pings. */
public class Pinger {
  /** @return the pid of the JVM this actor lives in */
  public long pid() {
    return ProcessHandle.current().pid();
  }

  /** @return n + 1 */
  public long ping(long n) {
    return n + 1;
  }
}

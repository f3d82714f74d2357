package chaostest;

import java.io.FileWriter;
import java.io.IOException;

/** Tasks for tests/chaos/test_task_failures_xlang.py: each run appends its pid to a file, then works a while. */
public final class Sleepy {
  private Sleepy() {}

  /** Appends this worker's pid to {@code pids}, sleeps {@code ms}, returns {@code x * x}. */
  public static long square(String pids, long ms, long x) throws IOException, InterruptedException {
    try (FileWriter w = new FileWriter(pids, true)) {
      w.write(ProcessHandle.current().pid() + "\n");
    }
    Thread.sleep(ms);
    return x * x;
  }
}

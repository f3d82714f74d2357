package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Spin's policy state with a fake clock and a fake load source (vectors: RuntimeSpecTest). */
class SpinPolicyTest {
  @TempDir Path dir;

  @Test
  void loadIsSampledAtMostEvery100MsAndStopsTheSpin() {
    AtomicLong runnable = new AtomicLong(1);
    AtomicLong reads = new AtomicLong();
    AtomicLong clock = new AtomicLong(0);
    Spin.State s = new Spin.State(300, () -> {
      reads.incrementAndGet();
      return runnable.get();
    }, 2, clock::get, dir);
    assertEquals(300_000, s.budgetNanos());
    runnable.set(12);
    clock.set(50_000_000L);
    assertEquals(300_000, s.budgetNanos()); // not read again yet
    assertEquals(1, reads.get());
    clock.set(100_000_000L);
    assertEquals(0, s.budgetNanos());
    runnable.set(2);
    clock.set(250_000_000L);
    assertEquals(300_000, s.budgetNanos());
  }

  @Test
  void longWaitsStopTheSpinAndShortOnesBringItBack() {
    Spin.State s = new Spin.State(300, () -> 1, 2, () -> 0, dir);
    for (int i = 0; i < 16; i++) {
      s.record(10_000_000L);
    }
    assertEquals(0, s.budgetNanos());
    for (int i = 0; i < 7; i++) {
      s.record(50_000L);
    }
    assertEquals(0, s.budgetNanos());
    s.record(50_000L);
    assertEquals(300_000, s.budgetNanos());
  }

  @Test
  void zeroCapNeverSpins() {
    Spin.State s = new Spin.State(0, () -> 1, 2, () -> 0, dir);
    assertEquals(0, s.budgetNanos());
  }

  @Test
  void tokensAreSharedByThreadsAndReleasedByTheLast() {
    Spin.State s = new Spin.State(300, () -> 1, 1, () -> 0, dir);
    assertTrue(s.acquire());
    assertTrue(s.acquire());
    s.release();
    s.release();
    assertTrue(s.acquire());
    s.release();
  }

  @Test
  void noTokenWhenAnotherProcessHoldsEveryOne() throws Exception {
    String py = "import fcntl,os,sys,time\n"
        + "fd=os.open(sys.argv[1]+'/token-0', os.O_RDWR|os.O_CREAT, 0o600)\n"
        + "fcntl.lockf(fd, fcntl.LOCK_EX|fcntl.LOCK_NB)\nprint('held', flush=True)\ntime.sleep(30)\n";
    Process p = new ProcessBuilder("python3", "-c", py, dir.toString()).redirectErrorStream(true).start();
    try {
      String line = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream())).readLine();
      assertEquals("held", line);
      Spin.State s = new Spin.State(300, () -> 1, 1, () -> 0, dir);
      assertFalse(s.acquire());
      p.destroyForcibly().waitFor(); // SIGKILL: the kernel drops its lock
      assertTrue(s.acquire());
      s.release();
    } finally {
      p.destroyForcibly();
    }
  }
}

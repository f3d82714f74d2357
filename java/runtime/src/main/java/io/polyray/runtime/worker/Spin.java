package io.polyray.runtime.worker;

import io.polyray.runtime.spec.Policies;
import io.polyray.runtime.spec.RuntimeSpec;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.function.LongSupplier;

/**
 * How long a worker thread polls for its next input before it sleeps (the Java side of
 * python/polyray/core/spin_selector.py). On the sync path every hop wakes a sleeping
 * thread, and on a VM whose idle vCPUs halt a wake-up costs 50-70 µs, about as much as the
 * rest of the hop; a thread that polls for a short while catches the next call while it
 * still runs. Each poll yields the core, so a spinner never keeps a thread that has work
 * from running. {@code POLYRAY_SPIN_US} (default 300, 0 = off) is the cap.
 *
 * <p>Whether a wait spins is the policy "spin_budget" ({@link Policies#spinBudgetUs}): not
 * when the machine is oversubscribed (/proc/loadavg's runnable threads, sampled at most every
 * {@code SPIN_LOAD_SAMPLE_MS}), not when recent waits ({@link #record}) mostly outlasted the
 * cap, and only while this process holds one of {@code cores} token files (fcntl locks, the
 * same files as Python and C++), so never more spinning processes than cores. Use: {@code
 * long b = budgetNanos(); if (b > 0 && acquire()) try { poll up to b } finally { release(); }}.
 * Public for the caller's end of a push connection ({@code
 * io.polyray.runtime.core.PushPortClient}), whose reader polls for the reply to a lone call.
 */
public final class Spin {
  /** The cap in nanoseconds. */
  public static final long NANOS = parse(System.getenv("POLYRAY_SPIN_US")) * 1000L;

  private static final State STATE = new State(NANOS / 1000, Spin::readRunnable,
      Runtime.getRuntime().availableProcessors(), System::nanoTime, tokenFolder());

  /** POLYRAY_SPIN_ADAPTIVE=0: the old fixed spin, no load gate or token (for before/after benchmarks). */
  static final boolean FIXED = "0".equals(System.getenv("POLYRAY_SPIN_ADAPTIVE"));

  private Spin() {}

  static long parse(String raw) {
    if (raw == null || raw.isEmpty()) {
      return RuntimeSpec.SPIN_DEFAULT_US;
    }
    try {
      long us = Long.parseLong(raw.trim());
      if (us < 0) {
        throw new IllegalArgumentException("POLYRAY_SPIN_US must not be negative, got " + raw);
      }
      return us;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("POLYRAY_SPIN_US must be a whole number of microseconds, not '"
          + raw + "'", e);
    }
  }

  /** One step of a spin: let another thread have the core. */
  public static void pause() {
    Thread.onSpinWait();
    Thread.yield();
  }

  /** How long the wait starting now may poll, in nanoseconds (0: block at once). */
  public static long budgetNanos() {
    return STATE.budgetNanos();
  }

  /** Takes this process's spin token (shared by its threads); false: another {@code cores} processes spin. */
  public static boolean acquire() {
    return STATE.acquire();
  }

  /** Gives back what {@link #acquire} took. */
  public static void release() {
    STATE.release();
  }

  /** A wait that ended after {@code waitNanos} (spinning or blocked). */
  public static void record(long waitNanos) {
    STATE.record(waitNanos);
  }

  static Path tokenFolder() {
    String user = System.getProperty("user.name", "user");
    long uid = -1;
    try {
      Object v = Files.getAttribute(Paths.get("/proc/self"), "unix:uid");
      uid = ((Number) v).longValue();
    } catch (IOException | RuntimeException e) {
      // not Linux: a folder per user name
    }
    String tmp = System.getProperty("java.io.tmpdir", "/tmp");
    return Paths.get(tmp, uid >= 0 ? "polyray-spin-" + uid : "polyray-spin-" + user);
  }

  static long readRunnable() {
    try {
      String s = Files.readString(Paths.get("/proc/loadavg"));
      String field = s.trim().split("\\s+")[3];
      return Long.parseLong(field.substring(0, field.indexOf('/')));
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }

  /** The policy's state: a clock, a load source and a token folder, as parameters for tests. */
  static final class State {
    private final long capUs;
    private final LongSupplier runnable;
    private final long cores;
    private final LongSupplier clock;
    private final Path folder;
    private final long[] waits = new long[RuntimeSpec.SPIN_HISTORY];
    private int count;
    private int next;
    private volatile long load;
    private volatile long loadAt = Long.MIN_VALUE;
    private int holders;
    private FileChannel[] channels;
    private FileLock held;

    State(long capUs, LongSupplier runnable, long cores, LongSupplier clock, Path folder) {
      this.capUs = capUs;
      this.runnable = runnable;
      this.cores = cores;
      this.clock = clock;
      this.folder = folder;
    }

    long budgetNanos() {
      if (capUs <= 0) {
        return 0;
      }
      if (FIXED) {
        return capUs * 1000L;
      }
      long now = clock.getAsLong();
      if (loadAt == Long.MIN_VALUE || now - loadAt >= RuntimeSpec.SPIN_LOAD_SAMPLE_MS * 1_000_000L) {
        load = runnable.getAsLong();
        loadAt = now;
      }
      synchronized (waits) {
        return Policies.spinBudgetUs(capUs, load, cores, waits, count) * 1000L;
      }
    }

    void record(long waitNanos) {
      synchronized (waits) {
        waits[next] = waitNanos / 1000;
        next = (next + 1) % waits.length;
        count = Math.min(count + 1, waits.length);
      }
    }

    synchronized boolean acquire() {
      if (FIXED || holders > 0) {
        holders++;
        return true;
      }
      if (channels == null) {
        channels = open();
      }
      for (FileChannel ch : channels) {
        try {
          FileLock l = ch.tryLock();
          if (l != null) {
            held = l;
            holders = 1;
            return true;
          }
        } catch (IOException | RuntimeException e) {
          // another token
        }
      }
      return false;
    }

    synchronized void release() {
      if (FIXED) {
        return;
      }
      if (--holders == 0 && held != null) {
        try {
          held.release();
        } catch (IOException e) {
          // closed: the lock is gone too
        }
        held = null;
      }
    }

    private FileChannel[] open() {
      try {
        Files.createDirectories(folder);
        FileChannel[] out = new FileChannel[(int) cores];
        for (int i = 0; i < out.length; i++) {
          out[i] = FileChannel.open(folder.resolve("token-" + i), StandardOpenOption.CREATE,
              StandardOpenOption.READ, StandardOpenOption.WRITE);
        }
        return out;
      } catch (IOException | RuntimeException e) {
        return new FileChannel[0];
      }
    }
  }
}

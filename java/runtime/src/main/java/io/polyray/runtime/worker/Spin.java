package io.polyray.runtime.worker;

/**
 * How long a worker thread polls for its next input before it sleeps (the Java side of
 * python/polyray/core/spin_selector.py). On the sync path every hop wakes a sleeping
 * thread, and on a VM whose idle vCPUs halt a wake-up costs 50-70 µs, about as much as the
 * rest of the hop; a thread that polls for a short while catches the next call while it
 * still runs. Each poll yields the core, so a spinner never keeps a thread that has work
 * from running. {@code POLYRAY_SPIN_US} (default 300, 0 = off) sets it. Public for the
 * caller's end of a push connection ({@code io.polyray.runtime.core.PushPortClient}),
 * whose reader polls the same way for the reply to a lone call.
 */
public final class Spin {
  /** The spin in nanoseconds. */
  public static final long NANOS = parse(System.getenv("POLYRAY_SPIN_US")) * 1000L;

  private Spin() {}

  static long parse(String raw) {
    if (raw == null || raw.isEmpty()) {
      return 300;
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
}

package io.polyray.runtime.core;

import java.util.PriorityQueue;

/**
 * A manual clock for submitter unit tests: time moves only when the test calls
 * {@link #advanceMs} or {@link #advanceUs}, and due timers run then, on the test's thread,
 * in due order. Invariant: a timer never runs before its due time, and runs at most once.
 */
final class ManualScheduler implements IoScheduler {
  private static final class Entry implements Timer {
    final long due;
    final long seq;
    final Runnable task;
    boolean cancelled;

    Entry(long due, long seq, Runnable task) {
      this.due = due;
      this.seq = seq;
      this.task = task;
    }

    @Override
    public void cancel() {
      cancelled = true;
    }
  }

  private final PriorityQueue<Entry> timers = new PriorityQueue<>((a, b) ->
      a.due != b.due ? Long.compare(a.due, b.due) : Long.compare(a.seq, b.seq));
  private long now = 1_000_000_000L;
  private long seq;

  @Override
  public long nanoTime() {
    return now;
  }

  @Override
  public Timer schedule(Runnable task, long delayMs) {
    Entry e = new Entry(now + delayMs * 1_000_000L, seq++, task);
    timers.add(e);
    return e;
  }

  void advanceMs(long ms) {
    advanceNanos(ms * 1_000_000L);
  }

  void advanceUs(long us) {
    advanceNanos(us * 1_000L);
  }

  private void advanceNanos(long nanos) {
    long until = now + nanos;
    while (!timers.isEmpty() && timers.peek().due <= until) {
      Entry e = timers.poll();
      now = e.due;
      if (!e.cancelled) {
        e.task.run();
      }
    }
    now = until;
  }

  /** Timers that would still run. */
  int pending() {
    return (int) timers.stream().filter(e -> !e.cancelled).count();
  }
}

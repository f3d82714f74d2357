package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Slots for {@code ReadObject} streams, per serving node (the runtime spec's [fanout]
 * {@code max_pulls_in_flight_per_node}; as the Python and C++ pullers): at most
 * {@code limit} streams of this process are open to one node at once, more pulls wait for a
 * slot. One instance per process ({@link #PROCESS}) serves every {@link ObjectPuller} of it
 * (a Java worker has two: its own and its CoreWorker's).
 *
 * <p>Invariants: at most {@code limit} slots of one node are held; a node with no slot held
 * takes no memory. Thread-safe.
 */
final class PullSlots {
  /** The slots of this process. */
  static final PullSlots PROCESS =
      new PullSlots(io.polyray.runtime.spec.RuntimeSpec.FANOUT_MAX_PULLS_IN_FLIGHT_PER_NODE);

  private final int limit;
  private final Map<ByteString, Integer> held = new HashMap<>();

  PullSlots(int limit) {
    this.limit = limit;
  }

  /**
   * Waits up to {@code timeoutMs} for a slot of {@code node}.
   *
   * @return whether it got one (then {@link #release} it)
   */
  synchronized boolean acquire(ByteString node, long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (held.getOrDefault(node, 0) >= limit) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    held.merge(node, 1, Integer::sum);
    return true;
  }

  /** Gives back a slot of {@code node}. */
  synchronized void release(ByteString node) {
    Integer n = held.get(node);
    if (n == null) {
      return;
    }
    if (n <= 1) {
      held.remove(node);
    } else {
      held.put(node, n - 1);
    }
    notifyAll();
  }

  /** Slots of {@code node} held now (for tests). */
  synchronized int held(ByteString node) {
    return held.getOrDefault(node, 0);
  }

  int limit() {
    return limit;
  }
}

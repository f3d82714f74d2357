package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The Java pullers' cap on ReadObject streams per serving node (PullSlots, the spec's
 * max_pulls_in_flight_per_node), with threads standing for pulls.
 */
class PullSlotsTest {
  private static final ByteString B = ByteString.copyFromUtf8("node-b".repeat(5).substring(0, 28));
  private static final ByteString C = ByteString.copyFromUtf8("node-c".repeat(5).substring(0, 28));

  @Test
  void streamsToOneNodeAreCappedAndOtherNodesAreNotHeldBack() throws Exception {
    PullSlots slots = new PullSlots(RuntimeSpec.FANOUT_MAX_PULLS_IN_FLIGHT_PER_NODE);
    assertEquals(8, slots.limit(), "the spec's cap");
    int pulls = 3 * slots.limit();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    CountDownLatch release = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < pulls; i++) {
      Thread t = new Thread(() -> {
        try {
          assertTrue(slots.acquire(B, 30_000));
          most.accumulateAndGet(running.incrementAndGet(), Math::max);
          release.await();
          running.decrementAndGet();
          slots.release(B);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      t.start();
      threads.add(t);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (slots.held(B) < slots.limit() && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    Thread.sleep(50);
    assertEquals(slots.limit(), slots.held(B), "no more streams to B than the cap");
    assertTrue(slots.acquire(C, 10), "another node has its own slots");
    slots.release(C);
    assertFalse(slots.acquire(B, 10), "a full node makes a pull wait, bounded");
    release.countDown();
    for (Thread t : threads) {
      t.join(10_000);
    }
    assertEquals(slots.limit(), most.get());
    assertEquals(0, slots.held(B));
  }
}

package io.polyray.runtime.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** A fresh segment per test, unlinked afterwards, and helpers to make and check contents. */
abstract class StoreTestSupport {
  private static final AtomicInteger COUNTER = new AtomicInteger();

  /** The store under test; closed and unlinked after each test. */
  SharedStore store;

  /** Capacity of the per-test store; tests that count bytes override it. */
  long capacity() {
    return 64L << 20;
  }

  @BeforeEach
  void createStore() {
    store = SharedStore.create(uniqueName(), capacity());
  }

  @AfterEach
  void destroyStore() {
    if (store != null) {
      String name = store.name();
      store.close();
      try {
        SharedStore.unlink(name);
      } catch (SegmentNotFoundException e) {
        // a test unlinked it already
      }
    }
  }

  /** A segment name no other test (or concurrent test run) uses. */
  static String uniqueName() {
    return "/polyray-jtest-" + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet();
  }

  static ObjectId randomId() {
    byte[] b = new byte[ObjectId.SIZE];
    ThreadLocalRandom.current().nextBytes(b);
    return ObjectId.fromBytes(b);
  }

  /** Deterministic contents derived from a seed, so a reader can check without the writer's copy. */
  static byte[] pattern(long seed, int size) {
    byte[] out = new byte[size];
    long x = seed * 0x9E3779B97F4A7C15L + 1;
    for (int i = 0; i < size; i++) {
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
      out[i] = (byte) x;
    }
    return out;
  }

  static byte[] bytes(ByteBuffer b) {
    ByteBuffer d = b.duplicate();
    byte[] out = new byte[d.remaining()];
    d.get(out);
    return out;
  }

  /** A put and get round trip: proves the store still works after a failed call. */
  static void assertStoreWorks(SharedStore s) {
    ObjectId id = randomId();
    byte[] data = pattern(id.hashCode(), 1000);
    s.put(id, data);
    try (ObjectView v = s.getOne(id, 1000)) {
      assertArrayEquals(data, bytes(v.data()));
    }
    s.delete(id);
  }
}

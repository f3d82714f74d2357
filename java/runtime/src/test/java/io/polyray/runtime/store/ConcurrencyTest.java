package io.polyray.runtime.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConcurrencyTest extends StoreTestSupport {
  private static final int THREADS = 4;
  private static final int PER_THREAD = 1000;

  @Override
  long capacity() {
    return 128L << 20;
  }

  /** Id of object i of thread t: every thread can compute every other thread's ids. */
  private static ObjectId idOf(int t, int i) {
    byte[] b = new byte[ObjectId.SIZE];
    b[0] = (byte) 0x7a;
    b[1] = (byte) t;
    b[2] = (byte) (i >>> 8);
    b[3] = (byte) i;
    return ObjectId.fromBytes(b);
  }

  private static int sizeOf(int t, int i) {
    return (i * 7919 + t * 104729) % 8192; // includes 0-byte objects
  }

  private static long seedOf(int t, int i) {
    return t * 1_000_003L + i;
  }

  @Test
  void threadsCreateAndReadThousandsOfObjects() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      List<Future<Integer>> results = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        final int me = t;
        results.add(
            pool.submit(
                () -> {
                  Random rnd = new Random(me);
                  int checked = 0;
                  for (int i = 0; i < PER_THREAD; i++) {
                    byte[] data = pattern(seedOf(me, i), sizeOf(me, i));
                    if (i % 2 == 0) {
                      store.put(idOf(me, i), data);
                    } else {
                      try (ObjectBuilder b = store.create(idOf(me, i), data.length, 0)) {
                        b.data().put(data);
                        b.seal();
                      }
                    }
                    // Read an object of a random thread, waiting if it is not written yet.
                    int t2 = rnd.nextInt(THREADS);
                    int i2 = rnd.nextInt(i + 1);
                    try (ObjectView v = store.getOne(idOf(t2, i2), 30_000)) {
                      assertArrayEquals(pattern(seedOf(t2, i2), sizeOf(t2, i2)), bytes(v.data()));
                      checked++;
                    }
                  }
                  // Then every own object, in one batched get.
                  List<ObjectId> mine = new ArrayList<>();
                  for (int i = 0; i < PER_THREAD; i++) {
                    mine.add(idOf(me, i));
                  }
                  List<ObjectView> views = store.get(mine, 0);
                  for (int i = 0; i < PER_THREAD; i++) {
                    ObjectView v = views.get(i);
                    assertNotNull(v, "own object " + i + " missing");
                    assertArrayEquals(pattern(seedOf(me, i), sizeOf(me, i)), bytes(v.data()));
                    v.close();
                    checked++;
                  }
                  return checked;
                }));
      }
      int total = 0;
      for (Future<Integer> f : results) {
        total += f.get(100, TimeUnit.SECONDS);
      }
      assertEquals(THREADS * PER_THREAD * 2, total);
    } finally {
      pool.shutdownNow();
    }
    StoreStats st = store.stats();
    assertEquals(THREADS * PER_THREAD, st.objects());
    assertEquals(THREADS * PER_THREAD, st.sealedObjects());
    assertEquals(0, st.pinnedObjects(), "every view was closed");
    assertEquals(0, st.evictions());
  }

  @Test
  void getWaitsForAnObjectSealedLater() throws Exception {
    ObjectId id = randomId();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      CountDownLatch started = new CountDownLatch(1);
      Future<byte[]> got =
          pool.submit(
              () -> {
                started.countDown();
                long t0 = System.nanoTime();
                try (ObjectView v = store.getOne(id, 20_000)) {
                  long waitedMs = (System.nanoTime() - t0) / 1_000_000;
                  assertTrue(waitedMs >= 100, "returned after " + waitedMs + " ms, before the seal");
                  return bytes(v.data());
                }
              });
      started.await();
      Thread.sleep(300);
      ObjectBuilder b = store.create(id, 1000, 0);
      b.data().put(pattern(11, 1000));
      Thread.sleep(100); // created but not sealed: still invisible
      b.seal();
      assertArrayEquals(pattern(11, 1000), got.get(10, TimeUnit.SECONDS));
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void batchGetWaitsForEveryObject() throws Exception {
    ObjectId a = randomId();
    ObjectId b = randomId();
    store.put(a, new byte[] {1});
    Thread writer =
        new Thread(
            () -> {
              try {
                Thread.sleep(250);
              } catch (InterruptedException e) {
                return;
              }
              store.put(b, new byte[] {2});
            });
    writer.start();
    List<ObjectView> views = store.get(Arrays.asList(a, b), 20_000);
    writer.join();
    assertEquals(1, views.get(0).data().get(0));
    assertEquals(2, views.get(1).data().get(0));
    views.forEach(ObjectView::close);
  }

  @Test
  void getTimesOut() {
    ObjectId missing = randomId();
    long t0 = System.nanoTime();
    StoreTimeoutException e =
        assertThrows(StoreTimeoutException.class, () -> store.getOne(missing, 300));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(ms >= 290 && ms < 5000, "waited " + ms + " ms for a 300 ms timeout");
    assertTrue(e.getMessage().contains(missing.toHex()), e.getMessage());
    assertTrue(e.getMessage().contains("300 ms"), e.getMessage());
    assertEquals(StoreStatus.TIMEOUT, e.status());

    // A batch returns what it found and null for the rest; the found one is pinned.
    ObjectId present = randomId();
    store.put(present, new byte[] {9});
    List<ObjectView> views = store.get(List.of(present, missing), 100);
    assertEquals(2, views.size());
    assertNotNull(views.get(0));
    assertNull(views.get(1));
    assertEquals(1, store.stats().pinnedObjects());
    views.get(0).close();
    assertEquals(0, store.stats().pinnedObjects());
    assertStoreWorks(store);
  }

  @Test
  void closeEndsAGetThatWaitsForever() throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      CountDownLatch started = new CountDownLatch(1);
      Future<?> waiter =
          pool.submit(
              () -> {
                started.countDown();
                store.getOne(randomId(), -1);
              });
      started.await();
      Thread.sleep(200);
      long t0 = System.nanoTime();
      store.close();
      long closeMs = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(closeMs < 2000, "close waited " + closeMs + " ms for a blocked get");
      java.util.concurrent.ExecutionException e =
          assertThrows(
              java.util.concurrent.ExecutionException.class, () -> waiter.get(5, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof StoreClosedException, String.valueOf(e.getCause()));
    } finally {
      pool.shutdownNow();
    }
  }
}

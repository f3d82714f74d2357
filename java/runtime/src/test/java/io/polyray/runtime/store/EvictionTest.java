package io.polyray.runtime.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Room and eviction: a 1 MiB store holding 100 KiB objects (both multiples of the 64-byte block). */
class EvictionTest extends StoreTestSupport {
  private static final int OBJ = 100 * 1024;

  @Override
  long capacity() {
    return 1L << 20;
  }

  private List<ObjectId> fill(int n) {
    List<ObjectId> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ObjectId id = randomId();
      store.put(id, pattern(i, OBJ));
      ids.add(id);
    }
    return ids;
  }

  @Test
  void evictTakesLeastRecentlyUsedFirst() {
    List<ObjectId> ids = fill(5);
    // Reading o0 makes it the most recently used.
    try (ObjectView v = store.getOne(ids.get(0), 0)) {
      assertEquals(OBJ, v.dataSize());
    }
    long freed = store.evict(150 * 1024);
    assertEquals(2L * OBJ, freed);
    assertFalse(store.contains(ids.get(1)));
    assertFalse(store.contains(ids.get(2)));
    assertTrue(store.contains(ids.get(0)));
    assertTrue(store.contains(ids.get(3)));
    assertTrue(store.contains(ids.get(4)));
    assertEquals(2, store.stats().evictions());
  }

  @Test
  void pinnedObjectsAreNeverEvicted() {
    List<ObjectId> ids = fill(5);
    try (ObjectView pinned = store.getOne(ids.get(3), 0)) {
      long freed = store.evict(Long.MAX_VALUE);
      assertEquals(4L * OBJ, freed);
      assertTrue(store.contains(ids.get(3)));
      assertEquals(1, store.stats().objects());
      assertArrayEquals(pattern(3, OBJ), bytes(pinned.data()));
    }
    // Unpinned now, so it can go.
    assertEquals(OBJ, store.evict(1));
    assertEquals(0, store.stats().objects());
  }

  @Test
  void createEvictsOldestToMakeRoom() {
    List<ObjectId> ids = fill(10); // 1000 KiB of 1024
    assertEquals(0, store.stats().evictions());
    ObjectId extra = randomId();
    store.put(extra, pattern(99, OBJ));
    assertEquals(1, store.stats().evictions());
    assertFalse(store.contains(ids.get(0)), "the oldest object is evicted first");
    for (int i = 1; i < 10; i++) {
      assertTrue(store.contains(ids.get(i)), "object " + i + " should remain");
    }
    try (ObjectView v = store.getOne(extra, 0)) {
      assertArrayEquals(pattern(99, OBJ), bytes(v.data()));
    }
  }

  @Test
  void fullWhenEverythingIsPinned() {
    List<ObjectId> ids = fill(10);
    List<ObjectView> views = new ArrayList<>();
    for (ObjectId id : ids) {
      views.add(store.getOne(id, 0));
    }
    StoreFullException e =
        assertThrows(StoreFullException.class, () -> store.create(randomId(), 2 * OBJ, 0));
    assertEquals(StoreStatus.FULL, e.status());
    assertTrue(e.getMessage().contains(String.valueOf(2 * OBJ)), e.getMessage());
    assertEquals(10, store.stats().objects(), "a failed create evicts nothing it cannot use");
    for (ObjectView v : views) {
      v.close();
    }
    // With the pins gone the same create succeeds by evicting.
    ObjectId id = randomId();
    store.put(id, pattern(5, 2 * OBJ));
    assertTrue(store.contains(id));
    assertStoreWorks(store);
  }

  @Test
  void objectLargerThanTheStoreIsFull() {
    StoreFullException e =
        assertThrows(StoreFullException.class, () -> store.create(randomId(), 2L << 20, 0));
    assertTrue(e.getMessage().contains(String.valueOf(2L << 20)), e.getMessage());
    assertEquals(0, store.stats().objects());
    assertStoreWorks(store);
  }
}

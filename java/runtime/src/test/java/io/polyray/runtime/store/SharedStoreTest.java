package io.polyray.runtime.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ReadOnlyBufferException;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;
import org.junit.jupiter.api.Test;

class SharedStoreTest extends StoreTestSupport {
  @Test
  void roundTripBytes() {
    for (int size : new int[] {0, 1, 63, 64, 65, 4096, 1 << 20}) {
      ObjectId id = randomId();
      byte[] data = pattern(size, size);
      store.put(id, data);
      assertTrue(store.contains(id));
      try (ObjectView v = store.getOne(id, 0)) {
        assertEquals(id, v.id());
        assertEquals(size, v.dataSize());
        assertEquals(0, v.metadataSize());
        assertArrayEquals(data, bytes(v.data()));
        assertArrayEquals(data, v.toByteArray());
        assertEquals(0, v.metadata().remaining());
      }
    }
  }

  @Test
  void roundTripWithMetadataAndByteBuffer() {
    ObjectId a = randomId();
    store.put(a, pattern(1, 500), "meta".getBytes());
    try (ObjectView v = store.getOne(a, 0)) {
      assertArrayEquals(pattern(1, 500), bytes(v.data()));
      assertArrayEquals("meta".getBytes(), bytes(v.metadata()));
    }

    ObjectId b = randomId();
    ByteBuffer src = ByteBuffer.allocateDirect(300);
    src.put(pattern(2, 300)).flip();
    src.position(100);
    store.put(b, src);
    assertEquals(100, src.position(), "put must not move the caller's buffer");
    try (ObjectView v = store.getOne(b, 0)) {
      assertEquals(200, v.dataSize());
      byte[] expect = new byte[200];
      System.arraycopy(pattern(2, 300), 100, expect, 0, 200);
      assertArrayEquals(expect, bytes(v.data()));
    }
  }

  @Test
  void builderWritesInPlaceThenSeals() {
    ObjectId id = randomId();
    ObjectBuilder b = store.create(id, 16, 4);
    assertFalse(store.contains(id), "an unsealed object is invisible");
    assertTrue(b.data().isDirect());
    assertFalse(b.data().isReadOnly());
    b.data().putLong(0, 42L).putLong(8, 43L);
    b.metadata().putInt(0, 7);
    assertNull(store.get(List.of(id), 0).get(0), "get does not see unsealed objects");
    b.seal();
    assertTrue(b.isSealed());
    try (ObjectView v = store.getOne(id, 0)) {
      assertEquals(42L, v.data().getLong(0));
      assertEquals(43L, v.data().getLong(8));
      assertEquals(7, v.metadata().getInt(0));
    }
  }

  @Test
  void abortDropsTheObject() {
    ObjectId id = randomId();
    ObjectBuilder b = store.create(id, 100, 0);
    assertEquals(1, store.stats().objects());
    b.abort();
    assertEquals(0, store.stats().objects());
    assertEquals(0, store.stats().bytesUsed());
    // the id is free again
    store.put(id, new byte[] {1});
    assertTrue(store.contains(id));
  }

  @Test
  void builderCloseAbortsUnsealed() {
    ObjectId id = randomId();
    try (ObjectBuilder b = store.create(id, 10, 0)) {
      b.data().put((byte) 1);
    }
    assertEquals(0, store.stats().objects());
    ObjectId sealed = randomId();
    try (ObjectBuilder b = store.create(sealed, 10, 0)) {
      b.seal();
    }
    assertTrue(store.contains(sealed));
  }

  @Test
  void zeroCopy() throws IOException {
    ObjectId id = randomId();
    int size = 1 << 20;
    ObjectBuilder b = store.create(id, size, 0);
    long builderAddress = b.address();
    b.data().put(pattern(3, size));
    b.seal();
    try (ObjectView v1 = store.getOne(id, 0);
        ObjectView v2 = store.getOne(id, 0)) {
      assertEquals(builderAddress, v1.address(), "a view is the builder's memory, not a copy");
      assertEquals(v1.address(), v2.address());
      ByteBuffer d = v1.data();
      assertTrue(d.isDirect());
      assertTrue(d.isReadOnly());
      assertThrows(ReadOnlyBufferException.class, () -> d.put(0, (byte) 1));
      assertArrayEquals(pattern(3, size), bytes(d));

      // The address lies inside this process's mapping of the segment.
      String shmName = store.name().substring(1);
      boolean inside = false;
      for (String line : Files.readAllLines(Paths.get("/proc/self/maps"))) {
        if (!line.endsWith("/dev/shm/" + shmName)) {
          continue;
        }
        String[] range = line.substring(0, line.indexOf(' ')).split("-");
        long lo = Long.parseUnsignedLong(range[0], 16);
        long hi = Long.parseUnsignedLong(range[1], 16);
        if (v1.address() >= lo && v1.address() + size <= hi) {
          inside = true;
        }
      }
      assertTrue(inside, "view address is not inside a mapping of /dev/shm/" + shmName);
    }
  }

  @Test
  void pinsAreCountedAndReleasedOnce() {
    ObjectId id = randomId();
    store.put(id, pattern(4, 100));
    assertEquals(0, store.stats().pinnedObjects());
    ObjectView v1 = store.getOne(id, 0);
    ObjectView v2 = store.getOne(id, 0);
    assertEquals(1, store.stats().pinnedObjects());
    assertEquals(2, info(id).pins());
    v1.close();
    assertEquals(1, info(id).pins());
    v1.close(); // idempotent: must not drop v2's pin
    assertEquals(1, info(id).pins());
    assertTrue(v1.isReleased());
    v2.close();
    assertEquals(0, info(id).pins());
    assertEquals(0, store.stats().pinnedObjects());
  }

  @Test
  void releaseByIdClosesOneView() {
    ObjectId id = randomId();
    store.put(id, pattern(5, 10));
    ObjectView v = store.getOne(id, 0);
    store.release(id);
    assertTrue(v.isReleased());
    assertEquals(0, info(id).pins());
    v.close(); // already released: no error, no double release
    ObjectNotPinnedException e =
        assertThrows(ObjectNotPinnedException.class, () -> store.release(id));
    assertEquals(StoreStatus.NOT_PINNED, e.status());
  }

  @Test
  void deleteOfPinnedObjectIsDeferred() {
    ObjectId id = randomId();
    store.put(id, pattern(6, 1000));
    ObjectView v = store.getOne(id, 0);
    store.delete(id);
    assertTrue(info(id).deletePending());
    assertArrayEquals(pattern(6, 1000), bytes(v.data()), "a pinned object stays readable");
    v.close();
    assertFalse(store.contains(id));
    assertEquals(0, store.stats().objects());
  }

  @Test
  void listAndStats() {
    ObjectId sealed = randomId();
    store.put(sealed, new byte[100], new byte[10]);
    ObjectId open = randomId();
    ObjectBuilder b = store.create(open, 50, 0);
    List<ObjectInfo> infos = store.list();
    assertEquals(2, infos.size());
    ObjectInfo s = info(sealed);
    assertTrue(s.sealed());
    assertEquals(100, s.dataSize());
    assertEquals(10, s.metadataSize());
    assertEquals(ProcessHandle.current().pid(), s.creatorPid());
    assertFalse(info(open).sealed());
    StoreStats st = store.stats();
    assertEquals(capacity(), st.capacity());
    assertEquals(2, st.objects());
    assertEquals(1, st.sealedObjects());
    assertTrue(st.bytesUsed() >= 160, st.toString());
    b.abort();
  }

  @Test
  void listGrowsPastItsFirstGuess() {
    for (int i = 0; i < 300; i++) {
      store.put(randomId(), new byte[] {(byte) i});
    }
    assertEquals(300, store.list().size());
  }

  @Test
  @SuppressWarnings("try") // closes the handle inside its try on purpose
  void closeReleasesThisHandlesPinsAndAbortsItsObjects() {
    ObjectId id = randomId();
    store.put(id, pattern(7, 100));
    try (SharedStore other = SharedStore.open(store.name())) {
      ObjectView v = other.getOne(id, 0);
      other.create(randomId(), 10, 0); // left unsealed
      assertEquals(1, store.stats().pinnedObjects());
      assertEquals(2, store.stats().objects());
      other.close();
      assertEquals(0, store.stats().pinnedObjects(), "close drops the handle's pins");
      assertEquals(1, store.stats().objects(), "close aborts the handle's unsealed objects");
      v.close(); // no-op after store close
      assertThrows(StoreClosedException.class, v::data);
    }
    assertStoreWorks(store);
  }

  @Test
  void secondHandleSeesTheSameObjects() {
    ObjectId id = randomId();
    try (SharedStore other = SharedStore.open(store.name())) {
      other.put(id, pattern(8, 5000));
      try (ObjectView v = store.getOne(id, 0)) {
        assertArrayEquals(pattern(8, 5000), bytes(v.data()));
        assertNotEquals(0, v.address());
      }
    }
    try (ObjectView v = store.getOne(id, 0)) {
      assertNotNull(v);
    }
  }

  @Test
  void reclaimOfADeadProcessThatHeldNothing() throws Exception {
    Process p = new ProcessBuilder("true").start();
    p.waitFor();
    assertEquals(new ReclaimResult(0, 0, 0), store.reclaim((int) p.pid()));
    StoreInvalidArgumentException e =
        assertThrows(StoreInvalidArgumentException.class, () -> store.reclaim(0));
    assertTrue(e.getMessage().contains("pid"), e.getMessage());
    assertStoreWorks(store);
  }

  private ObjectInfo info(ObjectId id) {
    return store.list().stream()
        .filter(i -> i.id().equals(id))
        .findFirst()
        .orElseThrow(() -> new AssertionError("object " + id + " not listed"));
  }
}

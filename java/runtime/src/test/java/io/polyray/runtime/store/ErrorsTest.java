package io.polyray.runtime.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every bad input gets its own exception type and a message naming what was wrong; the store keeps working. */
class ErrorsTest extends StoreTestSupport {

  private static <T extends StoreException> T expect(
      Class<T> type, StoreStatus status, Executable call, String... mentions) {
    T e = assertThrows(type, call);
    assertEquals(status, e.status(), e.getMessage());
    for (String m : mentions) {
      assertTrue(e.getMessage().contains(m), "message should mention '" + m + "': " + e.getMessage());
    }
    return e;
  }

  @Test
  void unknownId() {
    ObjectId id = randomId();
    assertFalse(store.contains(id));
    expect(ObjectNotFoundException.class, StoreStatus.NOT_FOUND, () -> store.delete(id), id.toHex());
    expect(ObjectNotFoundException.class, StoreStatus.NOT_FOUND, () -> store.release(id), id.toHex());
    expect(StoreTimeoutException.class, StoreStatus.TIMEOUT, () -> store.getOne(id, 0), id.toHex());
    assertStoreWorks(store);
  }

  @Test
  void wrongIdLength() {
    expect(
        InvalidObjectIdException.class, StoreStatus.ID_LENGTH,
        () -> ObjectId.fromBytes(new byte[20]), "28", "20");
    expect(InvalidObjectIdException.class, StoreStatus.ID_LENGTH, () -> store.getOne(null, 0));
    expect(InvalidObjectIdException.class, StoreStatus.ID_LENGTH, () -> store.create(null, 1, 0));
    assertStoreWorks(store);
  }

  @Test
  void doubleSealAndWritesAfterSeal() {
    ObjectId id = randomId();
    ObjectBuilder b = store.create(id, 10, 2);
    b.seal();
    expect(ObjectSealedException.class, StoreStatus.SEALED, b::seal, id.toHex(), "already sealed");
    expect(ObjectSealedException.class, StoreStatus.SEALED, b::data, id.toHex());
    expect(ObjectSealedException.class, StoreStatus.SEALED, b::metadata, id.toHex());
    expect(ObjectSealedException.class, StoreStatus.SEALED, b::abort, id.toHex());
    assertTrue(store.contains(id), "failed calls leave the sealed object alone");
    assertStoreWorks(store);
  }

  @Test
  void useAfterAbort() {
    ObjectId id = randomId();
    ObjectBuilder b = store.create(id, 10, 0);
    b.abort();
    expect(ObjectNotFoundException.class, StoreStatus.NOT_FOUND, b::data, id.toHex(), "aborted");
    expect(ObjectNotFoundException.class, StoreStatus.NOT_FOUND, b::seal, id.toHex());
    assertStoreWorks(store);
  }

  @Test
  void duplicateCreate() {
    ObjectId id = randomId();
    store.put(id, new byte[5]);
    expect(ObjectExistsException.class, StoreStatus.EXISTS, () -> store.put(id, new byte[5]), id.toHex());
    ObjectBuilder open = store.create(randomId(), 1, 0);
    expect(ObjectExistsException.class, StoreStatus.EXISTS, () -> store.create(open.id(), 1, 0));
    open.abort();
    assertStoreWorks(store);
  }

  @Test
  void deleteOfUnsealed() {
    ObjectBuilder b = store.create(randomId(), 10, 0);
    expect(ObjectNotSealedException.class, StoreStatus.NOT_SEALED, () -> store.delete(b.id()), b.id().toHex());
    b.abort();
    assertStoreWorks(store);
  }

  @Test
  void badSizes() {
    expect(StoreInvalidArgumentException.class, StoreStatus.INVALID, () -> store.create(randomId(), -1, 0), "-1");
    expect(StoreInvalidArgumentException.class, StoreStatus.INVALID, () -> store.evict(-5), "-5");
    expect(StoreInvalidArgumentException.class, StoreStatus.INVALID, () -> store.put(randomId(), (byte[]) null));
    assertStoreWorks(store);
  }

  @Test
  void viewAfterClose() {
    ObjectId id = randomId();
    store.put(id, new byte[10]);
    ObjectView v = store.getOne(id, 0);
    v.close();
    expect(ObjectNotPinnedException.class, StoreStatus.NOT_PINNED, v::data, id.toHex(), "closed");
    assertStoreWorks(store);
  }

  @Test
  void useAfterClose() {
    ObjectId id = randomId();
    store.put(id, new byte[10]);
    ObjectView v = store.getOne(id, 0);
    ObjectBuilder b = store.create(randomId(), 10, 0);
    SharedStore s = store;
    String name = s.name();
    s.close();
    s.close(); // idempotent
    assertTrue(s.isClosed());
    List<Executable> calls =
        List.of(
            () -> s.put(randomId(), new byte[1]),
            () -> s.create(randomId(), 1, 0),
            () -> s.getOne(id, 0),
            () -> s.get(List.of(id), 0),
            () -> s.contains(id),
            () -> s.delete(id),
            () -> s.release(id),
            s::list,
            s::stats,
            () -> s.evict(1),
            () -> s.reclaim(1),
            v::data,
            v::metadata,
            b::data,
            b::seal);
    for (Executable c : calls) {
      expect(StoreClosedException.class, StoreStatus.CLOSED, c, name, "closed");
    }
    v.close(); // harmless after store close
    b.close();
    // The segment itself is fine: reopen and use it.
    store = SharedStore.open(name);
    assertTrue(store.contains(id));
    assertEquals(1, store.stats().objects(), "close aborted the unsealed object");
    assertEquals(0, store.stats().pinnedObjects(), "close released the open view");
    assertStoreWorks(store);
  }

  @Test
  void openMissingSegment() {
    String name = uniqueName();
    expect(SegmentNotFoundException.class, StoreStatus.NO_SEGMENT, () -> SharedStore.open(name), name);
    expect(SegmentNotFoundException.class, StoreStatus.NO_SEGMENT, () -> SharedStore.unlink(name), name);
    assertStoreWorks(store);
  }

  @Test
  void createExistingSegment() {
    expect(SegmentExistsException.class, StoreStatus.EXISTS, () -> SharedStore.create(store.name(), 1 << 20), store.name());
    assertStoreWorks(store);
  }

  @Test
  void capacityThatCannotBeMapped() {
    String name = uniqueName();
    expect(StoreNoMemoryException.class, StoreStatus.NO_MEMORY, () -> SharedStore.create(name, 1L << 60));
    // Nothing is left behind.
    expect(SegmentNotFoundException.class, StoreStatus.NO_SEGMENT, () -> SharedStore.open(name));
    expect(StoreInvalidArgumentException.class, StoreStatus.INVALID, () -> SharedStore.create(name, 0));
    assertStoreWorks(store);
  }

  @Test
  void badSegmentName() {
    expect(StoreInvalidArgumentException.class, StoreStatus.INVALID, () -> SharedStore.create("no-slash", 1 << 20), "no-slash");
    expect(StoreInvalidArgumentException.class, StoreStatus.INVALID, () -> SharedStore.open("/a/b"), "/a/b");
    expect(StoreInvalidArgumentException.class, StoreStatus.INVALID, () -> SharedStore.open(""));
    assertStoreWorks(store);
  }
}

package io.polyray.runtime.store;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A process's handle on the node's shared-memory object store (the C library
 * in bridge/). Objects are created and written through an {@link ObjectBuilder},
 * sealed, then read by any process as {@link ObjectView}s: read-only direct
 * ByteBuffers over the shared mapping, with no copy.
 *
 * <p>Thread-safe: any number of threads may create, get and release at once.
 * Every native call holds a read lock and {@link #close()} takes the write
 * lock, so the native handle is never freed while a call is using it, and any
 * use after close throws {@link StoreClosedException} instead of touching
 * freed memory. Waiting gets wait in short slices, so close never waits long.
 *
 * <p>Closing releases the pins of every view this handle still has open and
 * aborts its unsealed objects, so a forgotten view cannot keep an object
 * pinned for the life of the process. ByteBuffers already handed out must not
 * be read after their view or the store is closed: the memory may be reused
 * or unmapped, and a ByteBuffer cannot be revoked.
 */
public final class SharedStore implements AutoCloseable {
  /** Longest single wait inside the C library: bounds how long close() can be held up. */
  static final long MAX_WAIT_SLICE_MS = 100;

  private final String name;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  /** Set first thing in close(), so new calls fail fast while close waits for running ones. */
  private volatile boolean closed;
  /** The prs_store*; null once closed. Read under the read lock, cleared under the write lock. */
  private Pointer handle;

  private final Set<ObjectView> openViews = ConcurrentHashMap.newKeySet();
  private final Set<ObjectBuilder> openBuilders = ConcurrentHashMap.newKeySet();

  private SharedStore(String name, Pointer handle) {
    this.name = name;
    this.handle = handle;
  }

  /**
   * Creates the segment {@code name} with room for {@code capacity} bytes of
   * objects and maps it.
   *
   * @param name a POSIX shared-memory name: one leading '/', no other '/'
   * @param capacity bytes available for objects
   * @throws SegmentExistsException if the segment already exists
   * @throws StoreNoMemoryException if the capacity cannot be sized or mapped
   * @throws StoreInvalidArgumentException for a bad name or capacity
   */
  public static SharedStore create(String name, long capacity) {
    StoreNative.ensureLoaded();
    String op = "create store " + name;
    checkName(name, op);
    if (capacity <= 0) {
      throw StoreException.fail(StoreStatus.INVALID, op, "capacity must be positive, got " + capacity);
    }
    StoreNative.Scratch s = StoreNative.Scratch.get();
    s.out.setLong(0, 0);
    int rc = StoreNative.prs_store_create(StoreNative.cString(name), capacity, s.out);
    if (rc == StoreStatus.EXISTS.code()) {
      throw new SegmentExistsException(StoreNative.lastError(rc));
    }
    if (rc != 0) {
      throw StoreNative.error(rc, op);
    }
    return new SharedStore(name, s.out.getPointer(0));
  }

  /**
   * Maps the existing segment {@code name}.
   *
   * @throws SegmentNotFoundException if there is no such segment
   * @throws BadSegmentException if it is not a polyray store of this version
   */
  public static SharedStore open(String name) {
    StoreNative.ensureLoaded();
    String op = "open store " + name;
    checkName(name, op);
    StoreNative.Scratch s = StoreNative.Scratch.get();
    s.out.setLong(0, 0);
    int rc = StoreNative.prs_store_open(StoreNative.cString(name), s.out);
    if (rc != 0) {
      throw StoreNative.error(rc, op);
    }
    return new SharedStore(name, s.out.getPointer(0));
  }

  /**
   * Removes the segment's name. Processes that have it mapped keep using it;
   * the memory goes when the last one unmaps.
   *
   * @throws SegmentNotFoundException if there is no such segment
   */
  public static void unlink(String name) {
    StoreNative.ensureLoaded();
    String op = "unlink store " + name;
    checkName(name, op);
    int rc = StoreNative.prs_store_unlink(StoreNative.cString(name));
    if (rc != 0) {
      throw StoreNative.error(rc, op);
    }
  }

  /** The segment name this handle maps. */
  public String name() {
    return name;
  }

  /** True once {@link #close()} has been called. */
  public boolean isClosed() {
    return closed;
  }

  // ---------------------------------------------------------------- create

  /**
   * Allocates an object and returns a builder to write it. The object is
   * invisible to {@code get} until {@link ObjectBuilder#seal()}. May evict
   * unpinned sealed objects, least recently used first, to make room.
   *
   * @param dataSize bytes of data (may be 0)
   * @param metadataSize bytes of metadata (may be 0)
   * @throws ObjectExistsException if the id is already in the store
   * @throws StoreFullException if there is no room even after eviction
   */
  public ObjectBuilder create(ObjectId id, long dataSize, long metadataSize) {
    String op = "create object";
    checkId(id, op);
    if (dataSize < 0 || metadataSize < 0) {
      throw StoreException.fail(
          StoreStatus.INVALID,
          op,
          "object " + id + ": sizes must not be negative, got data " + dataSize + ", metadata " + metadataSize);
    }
    Pointer h = enter(op);
    try {
      StoreNative.Scratch s = StoreNative.Scratch.get();
      s.out.setLong(0, 0);
      s.out.setLong(8, 0);
      int rc = StoreNative.prs_create(h, id.rawBytes(), dataSize, metadataSize, s.out, s.out8);
      if (rc != 0) {
        throw StoreNative.error(rc, op);
      }
      ObjectBuilder b =
          new ObjectBuilder(
              this, id, Pointer.nativeValue(s.out.getPointer(0)), dataSize,
              Pointer.nativeValue(s.out.getPointer(8)), metadataSize);
      openBuilders.add(b);
      return b;
    } finally {
      exit();
    }
  }

  /**
   * Creates, writes and seals an object holding a copy of {@code data}.
   *
   * @throws ObjectExistsException if the id is already in the store
   * @throws StoreFullException if there is no room even after eviction
   */
  public void put(ObjectId id, byte[] data) {
    put(id, data, null);
  }

  /**
   * Creates, writes and seals an object holding copies of {@code data} and
   * {@code metadata} (null: none).
   */
  public void put(ObjectId id, byte[] data, byte[] metadata) {
    if (data == null) {
      throw StoreException.fail(StoreStatus.INVALID, "put", "object " + id + ": data is null");
    }
    ObjectBuilder b = create(id, data.length, metadata == null ? 0 : metadata.length);
    try {
      b.data().put(data);
      if (metadata != null) {
        b.metadata().put(metadata);
      }
      b.seal();
    } catch (RuntimeException e) {
      b.abortQuietly(e);
      throw e;
    }
  }

  /**
   * Creates, writes and seals an object holding a copy of the remaining bytes
   * of {@code data}. The buffer's position is left unchanged.
   */
  public void put(ObjectId id, ByteBuffer data) {
    if (data == null) {
      throw StoreException.fail(StoreStatus.INVALID, "put", "object " + id + ": data is null");
    }
    ObjectBuilder b = create(id, data.remaining(), 0);
    try {
      b.data().put(data.duplicate());
      b.seal();
    } catch (RuntimeException e) {
      b.abortQuietly(e);
      throw e;
    }
  }

  // ------------------------------------------------------------------- get

  /**
   * Pins and views the objects, waiting up to {@code timeoutMs} for those
   * not sealed yet. The list has one entry per id, in order: a view (close it
   * to release its pin) or null when that object was not sealed in time.
   *
   * @param timeoutMs 0: do not wait; negative: wait until sealed or the store is closed
   */
  public List<ObjectView> get(List<ObjectId> ids, long timeoutMs) {
    String op = "get";
    if (ids == null) {
      throw StoreException.fail(StoreStatus.INVALID, op, "ids is null");
    }
    int n = ids.size();
    ObjectId[] wanted = ids.toArray(new ObjectId[0]);
    for (int i = 0; i < n; i++) {
      if (wanted[i] == null) {
        throw StoreException.fail(StoreStatus.ID_LENGTH, op, "object id at index " + i + " is null");
      }
    }
    ObjectView[] result = new ObjectView[n];
    if (n == 0) {
      return Collections.unmodifiableList(Arrays.asList(result));
    }
    int[] pending = new int[n];
    for (int i = 0; i < n; i++) {
      pending[i] = i;
    }
    int pendingCount = n;
    boolean forever = timeoutMs < 0;
    long deadline = forever ? 0 : System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    try {
      while (true) {
        long slice;
        if (forever) {
          slice = MAX_WAIT_SLICE_MS;
        } else {
          long left = deadline - System.nanoTime();
          slice = Math.max(0, Math.min(MAX_WAIT_SLICE_MS, (left + 999_999) / 1_000_000));
        }
        pendingCount = getOnce(op, wanted, pending, pendingCount, slice, result);
        if (pendingCount == 0 || (!forever && deadline - System.nanoTime() <= 0)) {
          break;
        }
      }
    } catch (RuntimeException e) {
      for (ObjectView v : result) {
        if (v != null) {
          v.close();
        }
      }
      throw e;
    }
    return Collections.unmodifiableList(Arrays.asList(result));
  }

  /**
   * One prs_get over the pending ids; fills {@code result}, compacts
   * {@code pending} and returns how many are still pending.
   */
  private int getOnce(
      String op, ObjectId[] wanted, int[] pending, int count, long sliceMs, ObjectView[] result) {
    byte[] idBytes;
    if (count == 1) {
      idBytes = wanted[pending[0]].rawBytes();
    } else {
      idBytes = new byte[count * ObjectId.SIZE];
      for (int i = 0; i < count; i++) {
        System.arraycopy(wanted[pending[i]].rawBytes(), 0, idBytes, i * ObjectId.SIZE,
            ObjectId.SIZE);
      }
    }
    Pointer h = enter(op);
    try {
      Memory views = StoreNative.Scratch.get().views(count);
      int rc = StoreNative.prs_get(h, idBytes, count, sliceMs, views);
      if (rc != 0 && rc != StoreStatus.TIMEOUT.code()) {
        throw StoreNative.error(rc, op);
      }
      int still = 0;
      for (int i = 0; i < count; i++) {
        long base = (long) i * StoreNative.VIEW_SIZE;
        if (views.getInt(base + StoreNative.VIEW_FOUND) != 0) {
          ObjectView v =
              new ObjectView(
                  this, wanted[pending[i]],
                  Pointer.nativeValue(views.getPointer(base + StoreNative.VIEW_DATA)),
                  views.getLong(base + StoreNative.VIEW_DATA_SIZE),
                  Pointer.nativeValue(views.getPointer(base + StoreNative.VIEW_METADATA)),
                  views.getLong(base + StoreNative.VIEW_METADATA_SIZE));
          openViews.add(v);
          result[pending[i]] = v;
        } else {
          pending[still++] = pending[i];
        }
      }
      return still;
    } finally {
      exit();
    }
  }

  /**
   * Pins and views one object, waiting up to {@code timeoutMs} for it to be
   * sealed (0: do not wait; negative: wait until sealed or the store is closed).
   *
   * @throws StoreTimeoutException if it was not sealed in time (or does not exist)
   */
  public ObjectView getOne(ObjectId id, long timeoutMs) {
    checkId(id, "get");
    ObjectView v = get(Collections.singletonList(id), timeoutMs).get(0);
    if (v == null) {
      throw StoreException.fail(
          StoreStatus.TIMEOUT,
          "get",
          "object " + id + " was not sealed within " + timeoutMs
              + " ms (it is not in store " + name + ", or is still being created)");
    }
    return v;
  }

  /**
   * Releases one pin on {@code id} by closing one of the views this handle
   * has open for it. Prefer {@link ObjectView#close()}; this exists for code
   * that tracks ids rather than views. With no open view the C library is
   * asked anyway, so the error says whether the object is missing or merely
   * not pinned (pins belong to a handle).
   *
   * @throws ObjectNotFoundException if there is no such object
   * @throws ObjectNotPinnedException if this process does not pin it
   */
  public void release(ObjectId id) {
    String op = "release";
    checkId(id, op);
    for (ObjectView v : openViews) {
      if (v.id().equals(id) && releaseView(v)) {
        return;
      }
    }
    Pointer h = enter(op);
    try {
      int rc = StoreNative.prs_release(h, id.rawBytes());
      if (rc != 0) {
        throw StoreNative.error(rc, op);
      }
    } finally {
      exit();
    }
  }

  /**
   * Releases a view's pin unless already released; true when this call did.
   * The read lock makes the check-and-release atomic with respect to close().
   */
  boolean releaseView(ObjectView v) {
    lock.readLock().lock();
    try {
      openViews.remove(v);
      // After close() every pin of this handle was already dropped: nothing to do.
      if (closed || !v.markReleased()) {
        return false;
      }
      int rc = StoreNative.prs_release(handle, v.id().rawBytes());
      if (rc != 0) {
        throw StoreNative.error(rc, "release");
      }
      return true;
    } finally {
      lock.readLock().unlock();
    }
  }

  // ------------------------------------------------------ builder callbacks

  /** prs_seal for a builder (its state checks are done by the builder). */
  void seal(ObjectBuilder b) {
    Pointer h = enter("seal");
    try {
      int rc = StoreNative.prs_seal(h, b.id().rawBytes());
      if (rc != 0) {
        throw StoreNative.error(rc, "seal");
      }
      b.markSealed();
      openBuilders.remove(b);
    } finally {
      exit();
    }
  }

  /** prs_abort for a builder. */
  void abort(ObjectBuilder b) {
    Pointer h = enter("abort");
    try {
      int rc = StoreNative.prs_abort(h, b.id().rawBytes());
      b.markAborted();
      openBuilders.remove(b);
      if (rc != 0) {
        throw StoreNative.error(rc, "abort");
      }
    } finally {
      exit();
    }
  }

  // ------------------------------------------------------------ management

  /** True when the object exists and is sealed. */
  public boolean contains(ObjectId id) {
    String op = "contains";
    checkId(id, op);
    Pointer h = enter(op);
    try {
      StoreNative.Scratch s = StoreNative.Scratch.get();
      s.out.setInt(0, 0);
      int rc = StoreNative.prs_contains(h, id.rawBytes(), s.out);
      if (rc != 0) {
        throw StoreNative.error(rc, op);
      }
      return s.out.getInt(0) != 0;
    } finally {
      exit();
    }
  }

  /**
   * Deletes a sealed object now, or when its last pin is released.
   *
   * @throws ObjectNotFoundException if there is no such object
   * @throws ObjectNotSealedException if it is still being created
   */
  public void delete(ObjectId id) {
    String op = "delete";
    checkId(id, op);
    Pointer h = enter(op);
    try {
      int rc = StoreNative.prs_delete(h, id.rawBytes());
      if (rc != 0) {
        throw StoreNative.error(rc, op);
      }
    } finally {
      exit();
    }
  }

  /** Every object in the store, sealed or not, in the C library's order. */
  public List<ObjectInfo> list() {
    String op = "list";
    Pointer h = enter(op);
    try {
      StoreNative.Scratch s = StoreNative.Scratch.get();
      long capacity = 64;
      while (true) {
        Memory infos = new Memory(capacity * StoreNative.INFO_SIZE);
        s.out.setLong(0, 0);
        int rc = StoreNative.prs_list(h, infos, capacity, s.out);
        if (rc != 0) {
          throw StoreNative.error(rc, op);
        }
        long count = s.out.getLong(0);
        if (count > capacity) {
          // Objects were added between calls or the first guess was small: retry with room.
          capacity = count + count / 4 + 16;
          continue;
        }
        List<ObjectInfo> out = new ArrayList<>((int) count);
        for (long i = 0; i < count; i++) {
          long b = i * StoreNative.INFO_SIZE;
          out.add(
              new ObjectInfo(
                  ObjectId.fromBytes(infos.getByteArray(b + StoreNative.INFO_ID, ObjectId.SIZE)),
                  infos.getLong(b + StoreNative.INFO_DATA_SIZE),
                  infos.getLong(b + StoreNative.INFO_METADATA_SIZE),
                  infos.getInt(b + StoreNative.INFO_SEALED) != 0,
                  infos.getInt(b + StoreNative.INFO_CREATOR_PID),
                  infos.getLong(b + StoreNative.INFO_PINS),
                  infos.getInt(b + StoreNative.INFO_DELETE_PENDING) != 0));
        }
        return Collections.unmodifiableList(out);
      }
    } finally {
      exit();
    }
  }

  /** A consistent snapshot of the store's counters. */
  public StoreStats stats() {
    String op = "stats";
    Pointer h = enter(op);
    try {
      Memory m = StoreNative.Scratch.get().out;
      m.clear(StoreNative.STATS_SIZE);
      int rc = StoreNative.prs_get_stats(h, m);
      if (rc != 0) {
        throw StoreNative.error(rc, op);
      }
      return new StoreStats(
          m.getLong(0), m.getLong(8), m.getLong(16), m.getLong(24), m.getLong(32), m.getLong(40),
          m.getLong(48));
    } finally {
      exit();
    }
  }

  /**
   * Frees at least {@code bytes} by deleting least-recently-used sealed
   * unpinned objects, if there are enough.
   *
   * @return the bytes actually freed (may be less than asked)
   */
  public long evict(long bytes) {
    String op = "evict";
    if (bytes < 0) {
      throw StoreException.fail(StoreStatus.INVALID, op, "bytes must not be negative, got " + bytes);
    }
    Pointer h = enter(op);
    try {
      Memory m = StoreNative.Scratch.get().out;
      m.setLong(0, 0);
      int rc = StoreNative.prs_evict(h, bytes, m);
      if (rc != 0) {
        throw StoreNative.error(rc, op);
      }
      return m.getLong(0);
    } finally {
      exit();
    }
  }

  /**
   * Makes the data region's pages [offset, offset + length) resident and
   * mapped in this process ({@code prs_prefault}), so later puts into them
   * take no page fault. Never changes a byte and takes no store lock.
   *
   * @return the bytes covered (0 past the end)
   */
  public long prefault(long offset, long length) {
    String op = "prefault";
    if (offset < 0 || length < 0) {
      throw StoreException.fail(StoreStatus.INVALID, op,
          "offset and length must not be negative, got " + offset + ", " + length);
    }
    Pointer h = enter(op);
    try {
      Memory m = StoreNative.Scratch.get().out;
      m.setLong(0, 0);
      int rc = StoreNative.prs_prefault(h, offset, length, m);
      if (rc != 0) {
        throw StoreNative.error(rc, op);
      }
      return m.getLong(0);
    } finally {
      exit();
    }
  }

  /**
   * Drops every pin of process {@code pid} and aborts the objects it left
   * unsealed. Only for processes known to be dead: a live one would lose
   * pins it still relies on.
   */
  public ReclaimResult reclaim(int pid) {
    String op = "reclaim";
    Pointer h = enter(op);
    try {
      Memory m = StoreNative.Scratch.get().out;
      m.clear(StoreNative.RECLAIM_SIZE);
      int rc = StoreNative.prs_reclaim(h, pid, m);
      if (rc != 0) {
        throw StoreNative.error(rc, op);
      }
      return new ReclaimResult(m.getLong(0), m.getLong(8), m.getLong(16));
    } finally {
      exit();
    }
  }

  /**
   * Releases this handle's open views, aborts its unsealed objects and unmaps
   * the store. Waits for calls in progress on other threads (at most one wait
   * slice for a blocked get). Idempotent.
   */
  @Override
  public void close() {
    closed = true;
    lock.writeLock().lock();
    try {
      if (handle == null) {
        return;
      }
      for (ObjectView v : openViews) {
        if (v.markReleased()) {
          StoreNative.prs_release(handle, v.id().rawBytes()); // best effort: we are closing
        }
      }
      openViews.clear();
      for (ObjectBuilder b : openBuilders) {
        if (b.markAbortedByClose()) {
          StoreNative.prs_abort(handle, b.id().rawBytes());
        }
      }
      openBuilders.clear();
      int rc = StoreNative.prs_store_close(handle, 0);
      handle = null;
      if (rc != 0) {
        throw StoreNative.error(rc, "close store " + name);
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** Shows the segment and whether the handle is open. */
  @Override
  public String toString() {
    return "SharedStore[" + name + (closed ? ", closed]" : "]");
  }

  // --------------------------------------------------------------- helpers

  /** Takes the read lock and returns the live handle, or throws if closed. */
  private Pointer enter(String op) {
    lock.readLock().lock();
    if (closed) {
      lock.readLock().unlock();
      throw closedError(op);
    }
    return handle;
  }

  private void exit() {
    lock.readLock().unlock();
  }

  /** The exception for use after close. */
  StoreClosedException closedError(String op) {
    return new StoreClosedException(
        StoreException.describe(StoreStatus.CLOSED, op, "store " + name + " is closed"));
  }

  private static void checkName(String name, String op) {
    if (name == null || name.isEmpty()) {
      throw StoreException.fail(StoreStatus.INVALID, op, "segment name is null or empty");
    }
    if (name.indexOf('\0') >= 0) {
      throw StoreException.fail(StoreStatus.INVALID, op, "segment name contains a NUL character");
    }
  }

  private static void checkId(ObjectId id, String op) {
    if (id == null) {
      throw StoreException.fail(StoreStatus.ID_LENGTH, op, "object id is null");
    }
  }
}

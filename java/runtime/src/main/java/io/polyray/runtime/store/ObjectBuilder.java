package io.polyray.runtime.store;

import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An object being created: writable direct ByteBuffers over its place in the
 * shared mapping, so the writer fills the store without an intermediate copy.
 * {@link #seal()} makes it immutable and visible to every process;
 * {@link #abort()} (or {@link #close()} before sealing) drops it.
 *
 * <p>Meant for one writing thread. Buffers obtained before sealing must not be
 * written afterwards: the store promises readers that sealed bytes never
 * change, and a ByteBuffer cannot be revoked.
 */
public final class ObjectBuilder implements AutoCloseable {
  private static final int OPEN = 0;
  private static final int SEALED = 1;
  private static final int ABORTED = 2;

  private final SharedStore store;
  private final ObjectId id;
  private final long dataAddress;
  private final long dataSize;
  private final long metadataAddress;
  private final long metadataSize;
  private final AtomicInteger state = new AtomicInteger(OPEN);
  private ByteBuffer dataBuffer;
  private ByteBuffer metadataBuffer;

  ObjectBuilder(
      SharedStore store, ObjectId id, long dataAddress, long dataSize, long metadataAddress,
      long metadataSize) {
    this.store = store;
    this.id = id;
    this.dataAddress = dataAddress;
    this.dataSize = dataSize;
    this.metadataAddress = metadataAddress;
    this.metadataSize = metadataSize;
  }

  /** The object's id. */
  public ObjectId id() {
    return id;
  }

  /** Bytes of data. */
  public long dataSize() {
    return dataSize;
  }

  /** Bytes of metadata. */
  public long metadataSize() {
    return metadataSize;
  }

  /** Native address of the data in this process's mapping (tests check zero copy with it). */
  public long address() {
    return dataAddress;
  }

  /**
   * A writable direct buffer over the data, positioned at 0. Each call returns
   * a new buffer over the same bytes, so callers do not share a position.
   *
   * @throws ObjectSealedException after {@link #seal()}
   * @throws ObjectNotFoundException after {@link #abort()}
   * @throws StoreClosedException after the store was closed
   */
  public ByteBuffer data() {
    checkWritable("data");
    if (dataBuffer == null) {
      dataBuffer = buffer(dataAddress, dataSize, "data");
    }
    return dataBuffer.duplicate();
  }

  /**
   * A writable direct buffer over the metadata, positioned at 0.
   *
   * @throws ObjectSealedException after {@link #seal()}
   * @throws ObjectNotFoundException after {@link #abort()}
   * @throws StoreClosedException after the store was closed
   */
  public ByteBuffer metadata() {
    checkWritable("metadata");
    if (metadataBuffer == null) {
      metadataBuffer = buffer(metadataAddress, metadataSize, "metadata");
    }
    return metadataBuffer.duplicate();
  }

  /**
   * Makes the object immutable and visible to getters in every process,
   * waking those waiting for it.
   *
   * @throws ObjectSealedException if it is already sealed
   * @throws ObjectNotFoundException if it was aborted
   */
  public void seal() {
    checkWritable("seal");
    store.seal(this);
  }

  /**
   * Drops the unsealed object and frees its memory.
   *
   * @throws ObjectSealedException if it is already sealed (delete it instead)
   * @throws ObjectNotFoundException if it was already aborted
   */
  public void abort() {
    checkWritable("abort");
    store.abort(this);
  }

  /** Aborts the object unless it was sealed, so try-with-resources never leaks a half-written object. */
  @Override
  public void close() {
    if (state.get() == OPEN && !store.isClosed()) {
      abortQuietly(null);
    }
  }

  /** Aborts for cleanup after another failure, which stays the one reported. */
  void abortQuietly(Throwable primary) {
    try {
      if (state.get() == OPEN) {
        store.abort(this);
      }
    } catch (RuntimeException e) {
      if (primary != null) {
        primary.addSuppressed(e);
      }
    }
  }

  /** Whether {@link #seal()} succeeded. */
  public boolean isSealed() {
    return state.get() == SEALED;
  }

  void markSealed() {
    state.compareAndSet(OPEN, SEALED);
  }

  void markAborted() {
    state.compareAndSet(OPEN, ABORTED);
  }

  /** Claims an open builder for abort by store close; false if sealed or aborted already. */
  boolean markAbortedByClose() {
    return state.compareAndSet(OPEN, ABORTED);
  }

  private void checkWritable(String op) {
    if (store.isClosed()) {
      throw store.closedError(op);
    }
    switch (state.get()) {
      case SEALED:
        throw StoreException.fail(
            StoreStatus.SEALED, op,
            "object " + id + " is already sealed; sealed objects are immutable");
      case ABORTED:
        throw StoreException.fail(StoreStatus.NOT_FOUND, op, "object " + id + " was aborted");
      default:
        break;
    }
  }

  private ByteBuffer buffer(long address, long size, String part) {
    if (size > Integer.MAX_VALUE) {
      throw StoreException.fail(
          StoreStatus.INVALID,
          part,
          "the " + part + " of object " + id + " is " + size + " bytes, more than a ByteBuffer can address ("
              + Integer.MAX_VALUE + "); use address()");
    }
    if (size == 0 || address == 0) {
      return ByteBuffer.allocateDirect(0);
    }
    return new Pointer(address).getByteBuffer(0, size);
  }

  /** Shows the id, sizes and state. */
  @Override
  public String toString() {
    String[] names = {"open", "sealed", "aborted"};
    return "ObjectBuilder[" + id + ", data " + dataSize + " B, metadata " + metadataSize + " B, "
        + names[state.get()] + "]";
  }
}

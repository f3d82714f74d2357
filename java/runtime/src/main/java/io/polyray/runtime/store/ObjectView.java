package io.polyray.runtime.store;

import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A pinned, sealed object: read-only direct ByteBuffers over the shared
 * mapping itself, so reading a large value costs no copy. The pin keeps the
 * object from being evicted or freed; {@link #close()} drops it (once, however
 * often it is called).
 *
 * <p>Buffers must not be read after the view (or its store) is closed: the
 * memory may then be reused by another object or unmapped. The view itself
 * refuses with an exception, but a ByteBuffer already handed out cannot.
 */
public final class ObjectView implements AutoCloseable {
  private final SharedStore store;
  private final ObjectId id;
  private final long dataAddress;
  private final long dataSize;
  private final long metadataAddress;
  private final long metadataSize;
  private final AtomicBoolean released = new AtomicBoolean();
  private volatile ByteBuffer dataBuffer;
  private volatile ByteBuffer metadataBuffer;

  ObjectView(
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

  /** Bytes of data (as a long: objects may exceed what one ByteBuffer addresses). */
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
   * A read-only direct buffer over the data, positioned at 0. Each call
   * returns a new buffer over the same memory, so threads do not share a
   * position.
   *
   * @throws ObjectNotPinnedException after {@link #close()}
   * @throws StoreClosedException after the store was closed
   */
  public ByteBuffer data() {
    check("data");
    ByteBuffer b = dataBuffer;
    if (b == null) {
      b = buffer(dataAddress, dataSize, "data");
      dataBuffer = b;
    }
    return b.duplicate();
  }

  /**
   * A read-only direct buffer over the metadata, positioned at 0.
   *
   * @throws ObjectNotPinnedException after {@link #close()}
   * @throws StoreClosedException after the store was closed
   */
  public ByteBuffer metadata() {
    check("metadata");
    ByteBuffer b = metadataBuffer;
    if (b == null) {
      b = buffer(metadataAddress, metadataSize, "metadata");
      metadataBuffer = b;
    }
    return b.duplicate();
  }

  /** A copy of the data, for callers that need a heap array. */
  public byte[] toByteArray() {
    ByteBuffer b = data();
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }

  /** Whether the pin was already released. */
  public boolean isReleased() {
    return released.get();
  }

  /** Releases the pin. Idempotent; a no-op after the store is closed (closing dropped it). */
  @Override
  public void close() {
    if (!released.get()) {
      store.releaseView(this);
    }
  }

  /** Claims the single release of this view's pin. */
  boolean markReleased() {
    return released.compareAndSet(false, true);
  }

  private void check(String op) {
    if (store.isClosed()) {
      throw store.closedError(op);
    }
    if (released.get()) {
      throw StoreException.fail(
          StoreStatus.NOT_PINNED,
          op,
          "the view of object " + id + " was closed; its memory may already hold another object");
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
      return ByteBuffer.allocateDirect(0).asReadOnlyBuffer();
    }
    return new Pointer(address).getByteBuffer(0, size).asReadOnlyBuffer();
  }

  /** Shows the id, sizes and whether the pin is held. */
  @Override
  public String toString() {
    return "ObjectView[" + id + ", data " + dataSize + " B, metadata " + metadataSize + " B"
        + (released.get() ? ", released]" : "]");
  }
}

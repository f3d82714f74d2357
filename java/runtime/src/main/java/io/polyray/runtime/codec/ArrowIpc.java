package io.polyray.runtime.codec;

import java.nio.ByteBuffer;

/**
 * An Arrow table as an ARROW envelope carries it: the bytes of an Arrow IPC stream
 * (schema, record batches, end marker). Held as bytes until the runtime reads Arrow
 * itself; encoding one as a whole value gives an ARROW envelope again.
 */
public final class ArrowIpc {
  private final ByteBuffer ipc;
  /** Keeps the memory under {@link #ipc} alive (a pinned store object), or null. */
  private final Object keepAlive;

  /**
   * A holder over an IPC stream's bytes (not copied).
   *
   * @param ipc the stream's bytes, from its position to its limit
   */
  public ArrowIpc(ByteBuffer ipc) {
    this(ipc, null);
  }

  ArrowIpc(ByteBuffer ipc, Object keepAlive) {
    this.ipc = ipc.slice().asReadOnlyBuffer();
    this.keepAlive = keepAlive;
  }

  /**
   * The IPC stream.
   *
   * @return a new read-only buffer over the bytes, positioned at 0
   */
  public ByteBuffer ipc() {
    return ipc.duplicate();
  }

  /**
   * A copy of the IPC stream.
   *
   * @return the bytes
   */
  public byte[] toByteArray() {
    byte[] out = new byte[ipc.remaining()];
    ipc.duplicate().get(out);
    return out;
  }

  Object keepAlive() {
    return keepAlive;
  }

  @Override
  public String toString() {
    return "ArrowIpc(" + ipc.remaining() + " bytes)";
  }
}

package io.polyray.runtime.codec;

import io.polyray.runtime.proto.Format;
import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.List;

/**
 * The parts of an envelope read from a store object: views of its memory, not copies.
 * They are valid while the store object stays pinned.
 */
public final class StoredEnvelope {
  private final Format format;
  private final ByteBuffer body;
  private final List<ByteBuffer> buffers;

  StoredEnvelope(Format format, ByteBuffer body, List<ByteBuffer> buffers) {
    this.format = format;
    this.body = body;
    this.buffers = Collections.unmodifiableList(buffers);
  }

  /**
   * The envelope format.
   *
   * @return the format from the metadata
   */
  public Format format() {
    return format;
  }

  /**
   * The body.
   *
   * @return a read-only view, positioned at 0
   */
  public ByteBuffer body() {
    return body.duplicate();
  }

  /**
   * The out-of-band buffers.
   *
   * @return read-only views, in order
   */
  public List<ByteBuffer> buffers() {
    return buffers;
  }
}

package io.polyray.runtime.codec;

import com.google.protobuf.UnsafeByteOperations;
import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.ObjectRef;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * An encoded value: what an envelope carries (format, body, out-of-band buffers) plus
 * the references found in it ({@link #nestedRefs()} for {@code TaskArg.nested_refs} and
 * {@code ReturnObject.nested_refs}; {@link #nestedHandles()} for actor handles), which
 * are not part of the envelope itself.
 */
public final class Encoded {
  private final Format format;
  private final ByteBuffer body;
  private final List<ByteBuffer> buffers;
  private final List<ObjectRef> nestedRefs;
  private final List<ActorHandle> nestedHandles;

  /**
   * An encoded value (buffers are not copied).
   *
   * @param format the envelope format
   * @param body the body, from its position to its limit
   * @param buffers out-of-band buffers, each from its position to its limit
   * @param nestedRefs ObjectRefs found in the value, in encounter order
   * @param nestedHandles actor handles found in the value, in encounter order
   */
  public Encoded(
      Format format,
      ByteBuffer body,
      List<ByteBuffer> buffers,
      List<ObjectRef> nestedRefs,
      List<ActorHandle> nestedHandles) {
    this.format = format;
    this.body = body.slice().asReadOnlyBuffer();
    List<ByteBuffer> bs = new ArrayList<>(buffers.size());
    for (ByteBuffer b : buffers) {
      bs.add(b.slice().asReadOnlyBuffer());
    }
    this.buffers = Collections.unmodifiableList(bs);
    this.nestedRefs = Collections.unmodifiableList(new ArrayList<>(nestedRefs));
    this.nestedHandles = Collections.unmodifiableList(new ArrayList<>(nestedHandles));
  }

  /**
   * An Encoded over a protobuf Envelope's bytes (no copy; no nested refs, which travel
   * beside an envelope).
   *
   * @param env the envelope
   * @return the encoded value
   */
  public static Encoded fromEnvelope(Envelope env) {
    List<ByteBuffer> bs = new ArrayList<>(env.getBuffersCount());
    for (int i = 0; i < env.getBuffersCount(); i++) {
      bs.add(env.getBuffers(i).asReadOnlyByteBuffer());
    }
    return new Encoded(env.getFormat(), env.getBody().asReadOnlyByteBuffer(), bs, List.of(), List.of());
  }

  /**
   * The envelope format.
   *
   * @return XLANG, RAW, ARROW or ERROR
   */
  public Format format() {
    return format;
  }

  /**
   * The body.
   *
   * @return a new read-only buffer over it, positioned at 0
   */
  public ByteBuffer body() {
    return body.duplicate();
  }

  /**
   * The out-of-band buffers (ndarray data), in the order ext 3 values refer to them.
   *
   * @return read-only buffers, each positioned at 0 (do not change their positions)
   */
  public List<ByteBuffer> buffers() {
    return buffers;
  }

  /**
   * The ObjectRefs found inside the value.
   *
   * @return the messages, in encounter order
   */
  public List<ObjectRef> nestedRefs() {
    return nestedRefs;
  }

  /**
   * The actor handles found inside the value.
   *
   * @return the messages, in encounter order
   */
  public List<ActorHandle> nestedHandles() {
    return nestedHandles;
  }

  /**
   * Bytes of body and buffers: the size compared with the inline limit.
   *
   * @return the total size, before store padding
   */
  public long size() {
    long n = body.remaining();
    for (ByteBuffer b : buffers) {
      n += b.remaining();
    }
    return n;
  }

  /**
   * The protobuf Envelope. Heap buffers are wrapped, not copied (they are never
   * written after encoding); direct ones are copied.
   *
   * @return the envelope
   */
  public Envelope toEnvelope() {
    Envelope.Builder b = Envelope.newBuilder().setFormat(format).setBody(UnsafeByteOperations.unsafeWrap(body.duplicate()));
    for (ByteBuffer buf : buffers) {
      b.addBuffers(UnsafeByteOperations.unsafeWrap(buf.duplicate()));
    }
    return b.build();
  }

  @Override
  public String toString() {
    List<Integer> sizes = new ArrayList<>();
    for (ByteBuffer b : buffers) {
      sizes.add(b.remaining());
    }
    return "Encoded(" + format + ", body=" + body.remaining() + "B, buffers=" + sizes
        + ", nestedRefs=" + nestedRefs.size() + ", nestedHandles=" + nestedHandles.size() + ")";
  }
}

package io.polyray.runtime.codec;

import com.google.protobuf.InvalidProtocolBufferException;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Format;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The envelope codec (docs/protocol.md §8-§10): Java values to envelopes and
 * back. Thread-safe and cheap to share.
 *
 * <p>Encoding gives XLANG (msgpack with polyray's extension types) for any value built
 * from null, Boolean, Long/Integer/Short/Byte, BigInteger in [-2^63, 2^64),
 * Double/Float, String, Character, byte[] and ByteBuffer (bin), List and Object[]
 * (array), Map (map, iteration order), primitive arrays other than byte[] and char[]
 * (1-D ndarrays), {@link NdArray}, {@link NativeValue}, {@link ExtValue}, and
 * references the hooks recognize; an {@link ArrowIpc} or an arrow-java
 * {@code VectorSchemaRoot} as a whole value gives ARROW.
 * Anything else is an {@link XlangTypeException} naming the type and where it sits.
 * ndarrays of at least the out-of-band threshold go into the envelope's buffers.
 *
 * <p>Decoding: XLANG as described in {@link NdArray} and the decoder's type list
 * (nil → null, int → Long or BigInteger, float → Double, str → String, bin → byte[],
 * array → ArrayList, map → LinkedHashMap, ...); RAW → byte[]; ARROW → {@link ArrowIpc};
 * ERROR → the {@link ErrorRecord} (callers raise it); PYTHON cannot be decoded in Java.
 */
public final class Codec {
  /** Arrays of at least this many bytes go out of band (docs/protocol.md §10.4). */
  public static final int DEFAULT_OOB_THRESHOLD = 64 * 1024;

  private final CodecHooks hooks;
  private final int oobThreshold;

  /**
   * A codec with the default out-of-band threshold.
   *
   * @param hooks how references are recognized and rebuilt
   */
  public Codec(CodecHooks hooks) {
    this(hooks, DEFAULT_OOB_THRESHOLD);
  }

  /**
   * A codec.
   *
   * @param hooks how references are recognized and rebuilt
   * @param oobThreshold arrays of at least this many bytes go out of band
   */
  public Codec(CodecHooks hooks, int oobThreshold) {
    if (hooks == null) {
      throw new IllegalArgumentException("hooks must not be null");
    }
    this.hooks = hooks;
    this.oobThreshold = Math.max(1, oobThreshold);
  }

  /**
   * The hooks of this codec.
   *
   * @return the hooks
   */
  public CodecHooks hooks() {
    return hooks;
  }

  /**
   * Encodes a value (see the class comment).
   *
   * @param value the value
   * @return the encoded value
   * @throws XlangTypeException when a part has no XLANG form
   */
  public Encoded encode(Object value) {
    return encode(value, "value");
  }

  /**
   * Encodes a value; {@code path} names it in errors.
   *
   * @param value the value
   * @param path what the value is, e.g. {@code argument 0} or {@code return value}
   * @return the encoded value
   * @throws XlangTypeException when a part has no XLANG form
   */
  public Encoded encode(Object value, String path) {
    if (value instanceof ArrowIpc) {
      return new Encoded(Format.FORMAT_ARROW, ((ArrowIpc) value).ipc(), List.of(), List.of(), List.of());
    }
    if (value instanceof org.apache.arrow.vector.VectorSchemaRoot) {
      return new Encoded(Format.FORMAT_ARROW,
          ArrowTables.fromRoot((org.apache.arrow.vector.VectorSchemaRoot) value).ipc(), List.of(), List.of(), List.of());
    }
    return new XlangEncoder(hooks, oobThreshold).encode(value, path);
  }

  /**
   * Encodes a value for a Java reader: as {@link #encode(Object, String)}, but a
   * Serializable part with no XLANG form travels as a Java-native value (ext 4, language
   * JAVA) instead of failing.
   *
   * @param value the value
   * @param path what the value is
   * @param javaNative whether the reader is Java
   * @return the encoded value
   * @throws XlangTypeException when a part has no XLANG form and is not Serializable (or
   *     {@code javaNative} is false)
   */
  public Encoded encode(Object value, String path, boolean javaNative) {
    if (!javaNative) {
      return encode(value, path);
    }
    if (value instanceof ArrowIpc || value instanceof org.apache.arrow.vector.VectorSchemaRoot) {
      return encode(value, path);
    }
    return new XlangEncoder(hooks, oobThreshold, true).encode(value, path);
  }

  /**
   * A RAW envelope: the bytes as they are.
   *
   * @param bytes the bytes (not copied)
   * @return the encoded value
   */
  public static Encoded encodeRaw(byte[] bytes) {
    return encodeRaw(ByteBuffer.wrap(bytes));
  }

  /**
   * A RAW envelope over a buffer's remaining bytes (not copied).
   *
   * @param bytes the bytes
   * @return the encoded value
   */
  public static Encoded encodeRaw(ByteBuffer bytes) {
    return new Encoded(Format.FORMAT_RAW, bytes, List.of(), List.of(), List.of());
  }

  /**
   * An ERROR envelope: the record, serialized deterministically.
   *
   * @param record the error
   * @return the encoded value
   */
  public static Encoded encodeError(ErrorRecord record) {
    return new Encoded(Format.FORMAT_ERROR, ByteBuffer.wrap(XlangEncoder.deterministic(record)),
        List.of(), List.of(), List.of());
  }

  /**
   * Decodes a protobuf Envelope; 1-D ndarrays of Java primitive types become primitive
   * arrays.
   *
   * @param env the envelope
   * @return the value
   * @throws IllegalArgumentException for a malformed or undecodable value
   */
  public Object decode(Envelope env) {
    return decode(env, true);
  }

  /**
   * Decodes a protobuf Envelope. Its bytes are read in place; ndarray views keep
   * referring to them.
   *
   * @param env the envelope
   * @param primitiveArrays true: 1-D ndarrays of long/int/short/double/float/bool become
   *     Java primitive arrays (copies); false: every ndarray is an {@link NdArray} view
   * @return the value
   * @throws IllegalArgumentException for a malformed or undecodable value
   */
  public Object decode(Envelope env, boolean primitiveArrays) {
    List<ByteBuffer> bufs = new ArrayList<>(env.getBuffersCount());
    for (int i = 0; i < env.getBuffersCount(); i++) {
      bufs.add(env.getBuffers(i).asReadOnlyByteBuffer());
    }
    return decode(env.getFormat(), env.getBody().asReadOnlyByteBuffer(), bufs, primitiveArrays, null);
  }

  /**
   * Decodes an envelope read from a store object (views of its memory).
   *
   * @param stored the parts from {@link StoreLayout#unpack}
   * @param primitiveArrays as in {@link #decode(Envelope, boolean)}
   * @param keepAlive held by every value that views the memory (may be null)
   * @return the value
   */
  public Object decode(StoredEnvelope stored, boolean primitiveArrays, KeepAlive keepAlive) {
    return decode(stored.format(), stored.body(), stored.buffers(), primitiveArrays, keepAlive);
  }

  /**
   * Decodes an envelope's parts.
   *
   * @param format the format
   * @param body the body (read in place)
   * @param buffers the out-of-band buffers
   * @param primitiveArrays as in {@link #decode(Envelope, boolean)}
   * @param keepAlive held by every value that views the memory (may be null)
   * @return the value
   * @throws IllegalArgumentException for a malformed or undecodable value
   */
  public Object decode(
      Format format, ByteBuffer body, List<ByteBuffer> buffers, boolean primitiveArrays, KeepAlive keepAlive) {
    switch (format) {
      case FORMAT_XLANG:
        return new XlangDecoder(body, buffers, hooks, primitiveArrays, keepAlive).decode();
      case FORMAT_RAW: {
        byte[] out = new byte[body.remaining()];
        body.duplicate().get(out);
        return out;
      }
      case FORMAT_ARROW:
        if (keepAlive != null) {
          keepAlive.markReferenced();
        }
        return new ArrowIpc(body, keepAlive);
      case FORMAT_ERROR:
        try {
          return ErrorRecord.parseFrom(body.duplicate());
        } catch (InvalidProtocolBufferException e) {
          throw new IllegalArgumentException("malformed ERROR envelope: " + e.getMessage(), e);
        }
      case FORMAT_PYTHON:
        throw new IllegalArgumentException(
            "the value is a Python pickle (format PYTHON), which only Python can decode: "
                + "have Python send it as XLANG types (None, bool, int, float, str, bytes, list, dict, "
                + "numpy arrays)");
      default:
        throw new IllegalArgumentException("unknown envelope format " + format);
    }
  }
}

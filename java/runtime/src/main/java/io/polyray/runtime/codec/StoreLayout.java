package io.polyray.runtime.codec;

import io.polyray.runtime.proto.Format;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * An envelope laid out as one shared-store object (docs/protocol.md §11): the body at
 * data offset 0, each out-of-band buffer at the next multiple of 64 (zero padding),
 * and metadata holding the format and where each part is:
 *
 * <pre>
 *   0  4  magic "PRYE"      5  1  format         8  4  buffer count N
 *   4  1  version = 1       6  2  reserved 0    12  4  reserved 0
 *  16  8  body length      24  16×N  (offset u64, length u64) per buffer
 * </pre>
 *
 * All little-endian. Because the store aligns every object's data to 64 bytes, each
 * buffer is 64-byte aligned in every process, and reading is zero copy.
 */
public final class StoreLayout {
  /** Alignment of buffers within the data. */
  public static final int ALIGNMENT = 64;
  /** Layout version written and accepted. */
  public static final int VERSION = 1;
  /** Bytes of the metadata header. */
  public static final int HEADER_SIZE = 24;
  /** Bytes per buffer entry in the metadata. */
  public static final int ENTRY_SIZE = 16;

  private static final byte[] MAGIC = "PRYE".getBytes(StandardCharsets.US_ASCII);

  private final Encoded encoded;
  private final long[] offsets;
  private final long dataSize;
  private final byte[] metadata;

  private StoreLayout(Encoded encoded) {
    this.encoded = encoded;
    List<ByteBuffer> bufs = encoded.buffers();
    long bodyLen = encoded.body().remaining();
    offsets = new long[bufs.size()];
    long end = bodyLen;
    for (int i = 0; i < offsets.length; i++) {
      long off = align(end);
      offsets[i] = off;
      end = off + bufs.get(i).remaining();
    }
    dataSize = end;
    ByteBuffer m = ByteBuffer.allocate(HEADER_SIZE + ENTRY_SIZE * offsets.length).order(ByteOrder.LITTLE_ENDIAN);
    m.put(MAGIC).put((byte) VERSION).put((byte) encoded.format().getNumber()).putShort((short) 0);
    m.putInt(offsets.length).putInt(0).putLong(bodyLen);
    for (int i = 0; i < offsets.length; i++) {
      m.putLong(offsets[i]).putLong(bufs.get(i).remaining());
    }
    metadata = m.array();
  }

  /**
   * The layout of {@code encoded}.
   *
   * @param encoded the value to store
   * @return its layout
   */
  public static StoreLayout of(Encoded encoded) {
    return new StoreLayout(encoded);
  }

  static long align(long n) {
    return (n + ALIGNMENT - 1) & -ALIGNMENT;
  }

  /**
   * The metadata to store beside the data.
   *
   * @return a copy of the metadata bytes
   */
  public byte[] metadata() {
    return metadata.clone();
  }

  /**
   * The data size to create the object with.
   *
   * @return the end of the last buffer, or the body length when there are none
   */
  public long dataSize() {
    return dataSize;
  }

  /**
   * Writes the body, padding and buffers into {@code data} from its position (which is
   * left unchanged).
   *
   * @param data a writable buffer of at least {@link #dataSize()} remaining bytes
   * @throws IllegalArgumentException when it is too small
   */
  public void write(ByteBuffer data) {
    if (data.remaining() < dataSize) {
      throw new IllegalArgumentException(
          "store object data is " + data.remaining() + " bytes, the envelope needs " + dataSize);
    }
    ByteBuffer d = data.duplicate();
    int base = d.position();
    d.put(encoded.body());
    List<ByteBuffer> bufs = encoded.buffers();
    for (int i = 0; i < offsets.length; i++) {
      int off = base + (int) offsets[i];
      while (d.position() < off) {
        d.put((byte) 0); // deterministic padding (at most 63 bytes)
      }
      d.put(bufs.get(i).duplicate());
    }
  }

  /**
   * Reads a store object's parts without copying: the body and buffers are views of
   * {@code data}.
   *
   * @param metadata the object's metadata
   * @param data the object's data
   * @return the envelope's parts
   * @throws IllegalArgumentException when the metadata is not this layout or points outside the data
   */
  public static StoredEnvelope unpack(ByteBuffer metadata, ByteBuffer data) {
    ByteBuffer m = metadata.slice().order(ByteOrder.LITTLE_ENDIAN);
    if (m.remaining() < HEADER_SIZE) {
      throw new IllegalArgumentException(
          "store object metadata is " + m.remaining() + " bytes, shorter than the header");
    }
    byte[] magic = new byte[4];
    m.get(0, magic);
    if (!java.util.Arrays.equals(magic, MAGIC)) {
      throw new IllegalArgumentException("store object metadata has magic "
          + new String(magic, StandardCharsets.ISO_8859_1) + ", expected PRYE");
    }
    int version = m.get(4) & 0xff;
    if (version != VERSION) {
      throw new IllegalArgumentException("store object layout version " + version + " is not supported (expected 1)");
    }
    Format format = Format.forNumber(m.get(5) & 0xff);
    if (format == null) {
      throw new IllegalArgumentException("store object has unknown envelope format " + (m.get(5) & 0xff));
    }
    long count = m.getInt(8) & 0xffffffffL;
    long bodyLen = m.getLong(16);
    if (m.remaining() != HEADER_SIZE + count * ENTRY_SIZE) {
      throw new IllegalArgumentException("store object metadata is " + m.remaining() + " bytes, "
          + count + " buffers need " + (HEADER_SIZE + count * ENTRY_SIZE));
    }
    ByteBuffer d = data.slice();
    long size = d.remaining();
    if (bodyLen < 0 || bodyLen > size) {
      throw new IllegalArgumentException(
          "store object body of " + Long.toUnsignedString(bodyLen) + " bytes exceeds its data (" + size + ")");
    }
    List<ByteBuffer> buffers = new ArrayList<>((int) count);
    for (int i = 0; i < count; i++) {
      long off = m.getLong(HEADER_SIZE + i * ENTRY_SIZE);
      long n = m.getLong(HEADER_SIZE + i * ENTRY_SIZE + 8);
      if (off < 0 || n < 0 || off + n > size || off + n < 0) {
        throw new IllegalArgumentException("store object buffer " + i + " [" + off + ", " + (off + n)
            + ") exceeds its data (" + size + ")");
      }
      buffers.add(part(d, off, n));
    }
    return new StoredEnvelope(format, part(d, 0, bodyLen), buffers);
  }

  private static ByteBuffer part(ByteBuffer d, long off, long n) {
    ByteBuffer p = d.duplicate();
    p.position((int) off).limit((int) (off + n));
    return p.slice().asReadOnlyBuffer();
  }
}

package io.polyray.runtime.codec;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Canonical msgpack output (docs/protocol.md §10.1) into a growable heap array: the
 * smallest int, str, bin, array and map headers, floats always as float64, fixext
 * headers for payloads of exactly 1/2/4/8/16 bytes. Written here rather than taken
 * from msgpack-core so every canonical rule is explicit and checked by the vectors.
 */
final class MsgpackWriter {
  private byte[] buf;
  private int pos;

  MsgpackWriter(int initialCapacity) {
    buf = new byte[Math.max(16, initialCapacity)];
  }

  /** Bytes written so far. */
  int size() {
    return pos;
  }

  /** A copy of the bytes written. */
  byte[] toByteArray() {
    return Arrays.copyOf(buf, pos);
  }

  /** The bytes written, not copied: the writer must not be written to afterwards. */
  ByteBuffer view() {
    return ByteBuffer.wrap(buf, 0, pos).slice();
  }

  /** Drops everything written after {@code size} (used to rewind a failed attempt). */
  void truncate(int size) {
    pos = size;
  }

  private void ensure(int n) {
    if (n > buf.length - pos) {
      long want = Math.max((long) buf.length * 2, (long) pos + n);
      if (want > Integer.MAX_VALUE - 8) {
        want = (long) pos + n;
        if (want > Integer.MAX_VALUE - 8) {
          throw new IllegalArgumentException(
              "XLANG body larger than 2 GiB: put large arrays out of band (ndarrays)");
        }
      }
      buf = Arrays.copyOf(buf, (int) want);
    }
  }

  private void put1(int b) {
    buf[pos++] = (byte) b;
  }

  private void put2(int v) {
    buf[pos++] = (byte) (v >>> 8);
    buf[pos++] = (byte) v;
  }

  private void put4(int v) {
    buf[pos++] = (byte) (v >>> 24);
    buf[pos++] = (byte) (v >>> 16);
    buf[pos++] = (byte) (v >>> 8);
    buf[pos++] = (byte) v;
  }

  private void put8(long v) {
    put4((int) (v >>> 32));
    put4((int) v);
  }

  void writeNil() {
    ensure(1);
    put1(0xc0);
  }

  void writeBool(boolean v) {
    ensure(1);
    put1(v ? 0xc3 : 0xc2);
  }

  /** A signed 64-bit int in its smallest form (uint forms for non-negative values). */
  void writeLong(long v) {
    ensure(9);
    if (v >= 0) {
      if (v < 0x80) {
        put1((int) v);
      } else if (v < 0x100) {
        put1(0xcc);
        put1((int) v);
      } else if (v < 0x10000) {
        put1(0xcd);
        put2((int) v);
      } else if (v < 0x100000000L) {
        put1(0xce);
        put4((int) v);
      } else {
        put1(0xcf);
        put8(v);
      }
    } else {
      if (v >= -32) {
        put1((int) v);
      } else if (v >= Byte.MIN_VALUE) {
        put1(0xd0);
        put1((int) v);
      } else if (v >= Short.MIN_VALUE) {
        put1(0xd1);
        put2((int) v);
      } else if (v >= Integer.MIN_VALUE) {
        put1(0xd2);
        put4((int) v);
      } else {
        put1(0xd3);
        put8(v);
      }
    }
  }

  /** An unsigned 64-bit value given by its bit pattern (for values above int64 max). */
  void writeUint64(long bits) {
    ensure(9);
    put1(0xcf);
    put8(bits);
  }

  /**
   * A BigInteger in [-2^63, 2^64).
   *
   * @throws IllegalArgumentException outside that range
   */
  void writeBigInteger(BigInteger v) {
    if (v.bitLength() <= 63) {
      writeLong(v.longValue());
    } else if (v.signum() > 0 && v.bitLength() == 64) {
      writeUint64(v.longValue());
    } else {
      throw new IllegalArgumentException("int outside the 64-bit range: " + v);
    }
  }

  void writeDouble(double v) {
    ensure(9);
    put1(0xcb);
    // raw bits: NaN payloads and -0.0 stay exactly as given (docs/protocol.md §9.3)
    put8(Double.doubleToRawLongBits(v));
  }

  /** A str header for {@code n} UTF-8 bytes. */
  void writeStrHeader(int n) {
    ensure(5);
    if (n < 32) {
      put1(0xa0 | n);
    } else if (n < 0x100) {
      put1(0xd9);
      put1(n);
    } else if (n < 0x10000) {
      put1(0xda);
      put2(n);
    } else {
      put1(0xdb);
      put4(n);
    }
  }

  /**
   * A str. Returns false (writing nothing) when {@code s} holds a lone surrogate, which
   * has no UTF-8 form: the caller reports where it sits.
   */
  boolean writeString(String s) {
    int len = s.length();
    // Fast path: ASCII, the common case, one byte per char.
    int i = 0;
    ensure(5 + len);
    int headerPos = pos;
    if (len < 32) {
      pos += 1;
    } else if (len < 0x100) {
      pos += 2;
    } else if (len < 0x10000) {
      pos += 3;
    } else {
      pos += 5;
    }
    int start = pos;
    for (; i < len; i++) {
      char c = s.charAt(i);
      if (c >= 0x80) {
        break;
      }
      buf[pos++] = (byte) c;
    }
    if (i < len) {
      // Worst case 3 bytes per remaining char (a surrogate pair is 4 bytes for 2 chars).
      ensure(3 * (len - i));
      for (; i < len; i++) {
        char c = s.charAt(i);
        if (c < 0x80) {
          buf[pos++] = (byte) c;
        } else if (c < 0x800) {
          buf[pos++] = (byte) (0xc0 | (c >> 6));
          buf[pos++] = (byte) (0x80 | (c & 0x3f));
        } else if (Character.isSurrogate(c)) {
          if (Character.isHighSurrogate(c) && i + 1 < len && Character.isLowSurrogate(s.charAt(i + 1))) {
            int cp = Character.toCodePoint(c, s.charAt(++i));
            buf[pos++] = (byte) (0xf0 | (cp >> 18));
            buf[pos++] = (byte) (0x80 | ((cp >> 12) & 0x3f));
            buf[pos++] = (byte) (0x80 | ((cp >> 6) & 0x3f));
            buf[pos++] = (byte) (0x80 | (cp & 0x3f));
          } else {
            pos = headerPos;
            return false;
          }
        } else {
          buf[pos++] = (byte) (0xe0 | (c >> 12));
          buf[pos++] = (byte) (0x80 | ((c >> 6) & 0x3f));
          buf[pos++] = (byte) (0x80 | (c & 0x3f));
        }
      }
    }
    int n = pos - start;
    int headerLen = start - headerPos;
    int want = n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
    if (want != headerLen) {
      // Multi-byte chars made the UTF-8 longer than the char count: move the bytes.
      ensure(want - headerLen);
      System.arraycopy(buf, start, buf, headerPos + want, n);
    }
    pos = headerPos;
    writeStrHeader(n);
    pos = headerPos + want + n;
    return true;
  }

  void writeBinHeader(int n) {
    ensure(5);
    if (n < 0x100) {
      put1(0xc4);
      put1(n);
    } else if (n < 0x10000) {
      put1(0xc5);
      put2(n);
    } else {
      put1(0xc6);
      put4(n);
    }
  }

  void writeBin(byte[] b) {
    writeBinHeader(b.length);
    writeRaw(b, 0, b.length);
  }

  /** A bin of the remaining bytes of {@code b} (its position is left unchanged). */
  void writeBin(ByteBuffer b) {
    int n = b.remaining();
    writeBinHeader(n);
    writeRaw(b);
  }

  void writeRaw(byte[] b, int off, int n) {
    ensure(n);
    System.arraycopy(b, off, buf, pos, n);
    pos += n;
  }

  void writeRaw(ByteBuffer b) {
    int n = b.remaining();
    ensure(n);
    b.duplicate().get(buf, pos, n);
    pos += n;
  }

  void writeArrayHeader(int n) {
    ensure(5);
    if (n < 16) {
      put1(0x90 | n);
    } else if (n < 0x10000) {
      put1(0xdc);
      put2(n);
    } else {
      put1(0xdd);
      put4(n);
    }
  }

  void writeMapHeader(int n) {
    ensure(5);
    if (n < 16) {
      put1(0x80 | n);
    } else if (n < 0x10000) {
      put1(0xde);
      put2(n);
    } else {
      put1(0xdf);
      put4(n);
    }
  }

  void writeExtHeader(int type, int n) {
    ensure(6);
    switch (n) {
      case 1:
        put1(0xd4);
        break;
      case 2:
        put1(0xd5);
        break;
      case 4:
        put1(0xd6);
        break;
      case 8:
        put1(0xd7);
        break;
      case 16:
        put1(0xd8);
        break;
      default:
        if (n < 0x100) {
          put1(0xc7);
          put1(n);
        } else if (n < 0x10000) {
          put1(0xc8);
          put2(n);
        } else {
          put1(0xc9);
          put4(n);
        }
    }
    put1(type);
  }

  void writeExt(int type, byte[] payload) {
    writeExtHeader(type, payload.length);
    writeRaw(payload, 0, payload.length);
  }
}

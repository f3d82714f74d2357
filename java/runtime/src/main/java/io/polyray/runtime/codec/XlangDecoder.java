package io.polyray.runtime.codec;

import com.google.protobuf.InvalidProtocolBufferException;
import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.ObjectRef;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One XLANG decode: msgpack (any valid form, canonical or not) to Java values. Reads a
 * ByteBuffer by absolute index, so a body in shared memory or in a protobuf ByteString
 * is read in place, and ndarray data become views of it.
 *
 * <p>Types: nil → null, bool → Boolean, int → Long (uint64 above int64's maximum →
 * BigInteger), float32/float64 → Double, str → String, bin → byte[], array → ArrayList,
 * map → LinkedHashMap (encoded order), ext 1/2 → the hooks, ext 3 → NdArray (or a Java
 * primitive array, see {@link NdArray}), ext 4 → NativeValue, other ext → ExtValue.
 */
final class XlangDecoder {
  /** Nesting accepted (the protocol promises 512). */
  static final int MAX_DEPTH = 1024;

  private final ByteBuffer in;
  private final int limit;
  private final List<ByteBuffer> buffers;
  private final CodecHooks hooks;
  private final boolean primitiveArrays;
  private final Object keepAlive;
  private int pos;

  /**
   * @param body the msgpack bytes from position to limit
   * @param buffers the envelope's out-of-band buffers
   * @param primitiveArrays decode 1-D ndarrays of long/int/short/double/float/bool to
   *     Java primitive arrays (a copy); false keeps every ndarray an NdArray view
   * @param keepAlive held by every NdArray view, so the memory stays pinned while one is reachable
   */
  XlangDecoder(ByteBuffer body, List<ByteBuffer> buffers, CodecHooks hooks, boolean primitiveArrays, Object keepAlive) {
    this.in = body.slice().order(ByteOrder.BIG_ENDIAN);
    this.limit = in.limit();
    this.buffers = buffers;
    this.hooks = hooks;
    this.primitiveArrays = primitiveArrays;
    this.keepAlive = keepAlive;
  }

  Object decode() {
    Object v;
    try {
      v = read(0);
    } catch (StackOverflowError e) {
      // Interpreted frames are large: a small thread stack can run out before MAX_DEPTH.
      throw malformed("XLANG value nests deeper than this thread's stack allows (limit " + MAX_DEPTH
          + " levels, docs/protocol.md §9.3)");
    }
    if (pos != limit) {
      throw malformed("trailing " + (limit - pos) + " bytes after the value");
    }
    return v;
  }

  private IllegalArgumentException malformed(String what) {
    return new IllegalArgumentException("malformed XLANG value at byte " + pos + ": " + what);
  }

  private void need(int n) {
    if (n < 0 || limit - pos < n) {
      throw malformed("truncated (needs " + Integer.toUnsignedString(n) + " more bytes, "
          + (limit - pos) + " left)");
    }
  }

  private int u8() {
    need(1);
    return in.get(pos++) & 0xff;
  }

  private int u16() {
    need(2);
    int v = in.getShort(pos) & 0xffff;
    pos += 2;
    return v;
  }

  private int i32() {
    need(4);
    int v = in.getInt(pos);
    pos += 4;
    return v;
  }

  private long i64() {
    need(8);
    long v = in.getLong(pos);
    pos += 8;
    return v;
  }

  /** A u32 length that must fit an int. */
  private int len32() {
    int v = i32();
    if (v < 0) {
      throw malformed("length " + Integer.toUnsignedString(v) + " exceeds 2 GiB");
    }
    return v;
  }

  private Object read(int depth) {
    int b = u8();
    if (b <= 0x7f) {
      return (long) b;
    }
    if (b >= 0xe0) {
      return (long) (byte) b;
    }
    if (b >= 0xa0 && b <= 0xbf) {
      return str(b & 0x1f);
    }
    if (b >= 0x90 && b <= 0x9f) {
      return array(b & 0x0f, depth);
    }
    if (b >= 0x80 && b <= 0x8f) {
      return map(b & 0x0f, depth);
    }
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return Boolean.FALSE;
      case 0xc3:
        return Boolean.TRUE;
      case 0xc4:
        return bin(u8());
      case 0xc5:
        return bin(u16());
      case 0xc6:
        return bin(len32());
      case 0xc7:
        return ext(u8(), depth);
      case 0xc8:
        return ext(u16(), depth);
      case 0xc9:
        return ext(len32(), depth);
      case 0xca: {
        need(4);
        float f = in.getFloat(pos);
        pos += 4;
        return (double) f;
      }
      case 0xcb: {
        need(8);
        double d = in.getDouble(pos);
        pos += 8;
        return d;
      }
      case 0xcc:
        return (long) u8();
      case 0xcd:
        return (long) u16();
      case 0xce:
        return i32() & 0xffffffffL;
      case 0xcf: {
        long v = i64();
        return v >= 0 ? (Object) v : new BigInteger(Long.toUnsignedString(v));
      }
      case 0xd0:
        return (long) (byte) u8();
      case 0xd1:
        return (long) (short) u16();
      case 0xd2:
        return (long) i32();
      case 0xd3:
        return i64();
      case 0xd4:
        return ext(1, depth);
      case 0xd5:
        return ext(2, depth);
      case 0xd6:
        return ext(4, depth);
      case 0xd7:
        return ext(8, depth);
      case 0xd8:
        return ext(16, depth);
      case 0xd9:
        return str(u8());
      case 0xda:
        return str(u16());
      case 0xdb:
        return str(len32());
      case 0xdc:
        return array(u16(), depth);
      case 0xdd:
        return array(len32(), depth);
      case 0xde:
        return map(u16(), depth);
      case 0xdf:
        return map(len32(), depth);
      default:
        pos--;
        throw malformed("0xc1 is not a msgpack type byte");
    }
  }

  private String str(int n) {
    need(n);
    String s;
    if (n == 0) {
      s = "";
    } else {
      ByteBuffer slice = in.duplicate();
      slice.position(pos).limit(pos + n);
      try {
        // Strict: invalid UTF-8 is an error, as in the other languages, not U+FFFD.
        s = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(slice)
            .toString();
      } catch (CharacterCodingException e) {
        throw malformed("str is not valid UTF-8");
      }
    }
    pos += n;
    return s;
  }

  private byte[] bin(int n) {
    need(n);
    byte[] out = new byte[n];
    in.get(pos, out, 0, n);
    pos += n;
    return out;
  }

  private ByteBuffer slice(int n) {
    need(n);
    ByteBuffer s = in.duplicate();
    s.position(pos).limit(pos + n);
    pos += n;
    return s.slice();
  }

  private void checkDepth(int depth) {
    if (depth >= MAX_DEPTH) {
      throw malformed("XLANG value nests deeper than " + MAX_DEPTH + " levels (docs/protocol.md §9.3)");
    }
  }

  private List<Object> array(int n, int depth) {
    checkDepth(depth);
    // Every element takes at least one byte: a huge count in a small body is malformed,
    // and must not allocate first.
    need(n);
    List<Object> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      out.add(read(depth + 1));
    }
    return out;
  }

  private Map<Object, Object> map(int n, int depth) {
    checkDepth(depth);
    need(n);
    Map<Object, Object> out = new LinkedHashMap<>(n < 12 ? 16 : (int) (n / 0.75f) + 1);
    for (int i = 0; i < n; i++) {
      Object k = read(depth + 1);
      Object v = read(depth + 1);
      out.put(k, v);
    }
    return out;
  }

  private Object ext(int n, int depth) {
    int type = (byte) u8();
    ByteBuffer payload = slice(n);
    switch (type) {
      case 1:
        try {
          return hooks.decodeObjectRef(ObjectRef.parseFrom(payload));
        } catch (InvalidProtocolBufferException e) {
          throw malformed("ext 1 (ObjectRef) is not an ObjectRef message: " + e.getMessage());
        }
      case 2:
        try {
          return hooks.decodeActorHandle(ActorHandle.parseFrom(payload));
        } catch (InvalidProtocolBufferException e) {
          throw malformed("ext 2 (ActorHandle) is not an ActorHandle message: " + e.getMessage());
        }
      case 3:
        return ndarray(payload);
      case 4:
        return nativeValue(payload);
      default: {
        byte[] data = new byte[n];
        payload.get(0, data);
        return new ExtValue(type, data);
      }
    }
  }

  private Object ndarray(ByteBuffer payload) {
    XlangDecoder sub = new XlangDecoder(payload, buffers, ProtoHooks.INSTANCE, false, null);
    DType dtype;
    long[] shape;
    ByteBuffer data;
    try {
      if (sub.u8() != 0x93) {
        throw sub.malformed("expected a 3-element array");
      }
      Object typestr = sub.read(1);
      dtype = typestr instanceof String ? DType.fromTypestr((String) typestr) : null;
      if (dtype == null) {
        throw sub.malformed("dtype " + typestr + " is not an XLANG dtype");
      }
      Object shapeObj = sub.read(1);
      if (!(shapeObj instanceof List)) {
        throw sub.malformed("shape is not an array");
      }
      List<?> s = (List<?>) shapeObj;
      shape = new long[s.size()];
      for (int i = 0; i < shape.length; i++) {
        Object d = s.get(i);
        if (!(d instanceof Long) || (Long) d < 0) {
          throw sub.malformed("bad shape " + s);
        }
        shape[i] = (Long) d;
      }
      int b = sub.u8();
      if (b == 0xc4 || b == 0xc5 || b == 0xc6) {
        int n = b == 0xc4 ? sub.u8() : b == 0xc5 ? sub.u16() : sub.len32();
        data = sub.slice(n);
      } else {
        sub.pos--;
        Object idx = sub.read(1);
        if (!(idx instanceof Long)) {
          throw sub.malformed("ndarray data is neither bin nor a buffer index");
        }
        long i = (Long) idx;
        if (i < 0 || i >= buffers.size()) {
          throw new IllegalArgumentException(
              "XLANG ndarray refers to buffer " + i + ", the envelope has " + buffers.size());
        }
        data = buffers.get((int) i).duplicate();
      }
      if (sub.pos != sub.limit) {
        throw sub.malformed("trailing bytes in the ndarray");
      }
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("malformed XLANG ndarray (ext 3): " + e.getMessage(), e);
    }
    long count;
    try {
      count = NdArray.elementCount(shape);
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("malformed XLANG ndarray (ext 3): shape overflows", e);
    }
    if (count * dtype.itemSize() != data.remaining()) {
      throw new IllegalArgumentException(
          "XLANG ndarray " + dtype.typestr() + java.util.Arrays.toString(shape) + " needs "
              + count * dtype.itemSize() + " bytes, its data has " + data.remaining());
    }
    NdArray arr = new NdArray(dtype, shape, data, keepAlive);
    if (primitiveArrays && shape.length == 1 && hasPrimitiveForm(dtype)) {
      return arr.toPrimitiveArray();
    }
    if (keepAlive instanceof KeepAlive) {
      ((KeepAlive) keepAlive).markReferenced();
    }
    return arr;
  }

  /** Dtypes whose 1-D arrays decode to a Java primitive array that encodes back to the same dtype. */
  static boolean hasPrimitiveForm(DType d) {
    switch (d) {
      case BOOL:
      case INT16:
      case INT32:
      case INT64:
      case FLOAT32:
      case FLOAT64:
        return true;
      default:
        return false;
    }
  }

  private NativeValue nativeValue(ByteBuffer payload) {
    byte[] raw = new byte[payload.remaining()];
    payload.duplicate().get(raw);
    XlangDecoder sub = new XlangDecoder(payload, buffers, ProtoHooks.INSTANCE, false, null);
    Object v;
    try {
      v = sub.decode();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("malformed XLANG native value (ext 4): " + e.getMessage(), e);
    }
    if (!(v instanceof List) || ((List<?>) v).size() != 2
        || !(((List<?>) v).get(0) instanceof Long) || !(((List<?>) v).get(1) instanceof byte[])) {
      throw new IllegalArgumentException("malformed XLANG native value (ext 4): expected [int, bin]");
    }
    long lang = (Long) ((List<?>) v).get(0);
    if (lang < Integer.MIN_VALUE || lang > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("malformed XLANG native value (ext 4): language " + lang);
    }
    return new NativeValue((int) lang, (byte[]) ((List<?>) v).get(1), raw);
  }
}

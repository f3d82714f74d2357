package io.polyray.runtime.codec;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.ObjectRef;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One XLANG encode (docs/protocol.md §10): Java value to canonical msgpack, collecting
 * out-of-band buffers and nested references. Not thread-safe; one per call.
 */
final class XlangEncoder {
  /** Deeper than any decoder must accept (512); stops cyclic values too. */
  static final int MAX_DEPTH = 1000;

  private final CodecHooks hooks;
  private final int oobThreshold;
  private final MsgpackWriter out = new MsgpackWriter(64);
  private final List<ByteBuffer> buffers = new ArrayList<>();
  private final List<ObjectRef> refs = new ArrayList<>();
  private final List<ActorHandle> handles = new ArrayList<>();

  /** Thrown up the value to collect the path of a part with no XLANG form. */
  private static final class Reject extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final transient Object obj;
    final String what;
    final String hint;
    final Deque<String> path = new ArrayDeque<>();

    Reject(Object obj, String what, String hint) {
      super(what, null, false, false);
      this.obj = obj;
      this.what = what;
      this.hint = hint;
    }
  }

  /** Serializable values with no XLANG form travel as Java-native values (both ends Java). */
  private final boolean javaNative;

  XlangEncoder(CodecHooks hooks, int oobThreshold) {
    this(hooks, oobThreshold, false);
  }

  XlangEncoder(CodecHooks hooks, int oobThreshold, boolean javaNative) {
    this.hooks = hooks;
    this.oobThreshold = oobThreshold;
    this.javaNative = javaNative;
  }

  /**
   * Encodes {@code value}; {@code path} names it in errors ("argument 0", "return value").
   *
   * @throws XlangTypeException for a part with no XLANG form
   */
  Encoded encode(Object value, String path) {
    try {
      write(value, 0);
    } catch (Reject r) {
      StringBuilder where = new StringBuilder(path);
      for (String seg : r.path) {
        where.append(seg);
      }
      String type = typeName(r.obj);
      throw new XlangTypeException(
          where + " (" + r.what + ") has no XLANG form, so it cannot be sent to another language: "
              + r.hint + " (docs/protocol.md §9)",
          where.toString(),
          type);
    }
    // The encoder is used once: its buffer becomes the body without another copy
    // (a 100 KiB byte[] put was copied three times).
    return new Encoded(Format.FORMAT_XLANG, out.view(), buffers, refs, handles);
  }

  private void write(Object v, int depth) {
    if (v == null) {
      out.writeNil();
      return;
    }
    // Most common types first.
    if (v instanceof String) {
      if (!out.writeString((String) v)) {
        throw new Reject(v, "String with a lone surrogate", "XLANG strings are UTF-8; fix the string");
      }
    } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
      out.writeLong(((Number) v).longValue());
    } else if (v instanceof Double || v instanceof Float) {
      out.writeDouble(((Number) v).doubleValue());
    } else if (v instanceof Boolean) {
      out.writeBool((Boolean) v);
    } else if (v instanceof byte[]) {
      out.writeBin((byte[]) v);
    } else if (v instanceof List) {
      checkDepth(v, depth);
      List<?> list = (List<?>) v;
      int n = list.size();
      out.writeArrayHeader(n);
      int i = 0;
      for (Object e : list) {
        if (i == n) {
          throw new Reject(v, "List that grew while being encoded", "do not modify it concurrently");
        }
        writeChild(e, depth, i++);
      }
      if (i != n) {
        throw new Reject(v, "List that shrank while being encoded", "do not modify it concurrently");
      }
    } else if (v instanceof Map) {
      checkDepth(v, depth);
      Map<?, ?> map = (Map<?, ?>) v;
      out.writeMapHeader(map.size());
      int i = 0;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        Object k = e.getKey();
        try {
          write(k, depth + 1);
        } catch (Reject r) {
          r.path.addFirst("<key " + keyText(k) + ">");
          throw r;
        }
        try {
          write(e.getValue(), depth + 1);
        } catch (Reject r) {
          r.path.addFirst("[" + keyText(k) + "]");
          throw r;
        }
        i++;
      }
      if (i != map.size()) {
        throw new Reject(v, "Map that changed while being encoded", "do not modify it concurrently");
      }
    } else if (v instanceof Character) {
      out.writeString(String.valueOf((char) (Character) v));
    } else if (v instanceof BigInteger) {
      BigInteger b = (BigInteger) v;
      if (b.bitLength() > 64 || (b.signum() < 0 && b.bitLength() > 63)) {
        throw new Reject(v, "BigInteger outside the 64-bit range", "XLANG ints are int64 (or uint64); pass it as a String");
      }
      out.writeBigInteger(b);
    } else if (v instanceof Object[]) {
      checkDepth(v, depth);
      Object[] a = (Object[]) v;
      out.writeArrayHeader(a.length);
      for (int i = 0; i < a.length; i++) {
        writeChild(a[i], depth, i);
      }
    } else if (v instanceof NdArray) {
      writeNdArray((NdArray) v);
    } else if (NdArray.dtypeOfPrimitiveArray(v) != null) {
      writePrimitiveArray(v);
    } else if (v instanceof ByteBuffer) {
      out.writeBin((ByteBuffer) v);
    } else if (v instanceof NativeValue) {
      out.writeExt(4, ((NativeValue) v).payload());
    } else if (v instanceof ExtValue) {
      out.writeExt(((ExtValue) v).type(), ((ExtValue) v).rawData());
    } else {
      writeOther(v);
    }
  }

  private void writeChild(Object e, int depth, int index) {
    try {
      write(e, depth + 1);
    } catch (Reject r) {
      r.path.addFirst("[" + index + "]");
      throw r;
    }
  }

  private void writeOther(Object v) {
    ObjectRef ref = hooks.encodeObjectRef(v);
    if (ref != null) {
      refs.add(ref);
      out.writeExt(1, deterministic(ref));
      return;
    }
    ActorHandle handle = hooks.encodeActorHandle(v);
    if (handle != null) {
      handles.add(handle);
      ObjectRef held = hooks.refOfHandle(handle);
      if (held != null) {
        refs.add(held);
      }
      out.writeExt(2, deterministic(handle));
      return;
    }
    if (javaNative && JavaNative.accepts(v)) {
      try {
        out.writeExt(4, JavaNative.write(v).payload());
      } catch (IllegalArgumentException e) {
        throw new Reject(v, typeName(v), "a Java-native value must serialize: " + e.getMessage());
      }
      return;
    }
    throw reject(v);
  }

  private static Reject reject(Object v) {
    if (v instanceof char[]) {
      return new Reject(v, "char[]", "pass a String");
    }
    if (v instanceof ArrowIpc || v instanceof org.apache.arrow.vector.VectorSchemaRoot) {
      return new Reject(v, "Arrow table inside a value", "pass the table as a whole value (ARROW)");
    }
    if (v instanceof Collection) {
      return new Reject(v, typeName(v), "only Lists are XLANG arrays: convert it to a List");
    }
    if (v instanceof Enum) {
      return new Reject(v, typeName(v), "pass its name() as a String");
    }
    if (v instanceof Optional) {
      return new Reject(v, typeName(v), "pass the value or null");
    }
    if (v instanceof Number) {
      return new Reject(v, typeName(v), "XLANG numbers are Long, Integer, Short, Byte, BigInteger (64-bit), Double or Float");
    }
    return new Reject(v, typeName(v), "pass its fields as a Map or a List");
  }

  private void checkDepth(Object v, int depth) {
    if (depth >= MAX_DEPTH) {
      throw new Reject(v, "value nested more than " + MAX_DEPTH + " levels deep (a cycle?)",
          "XLANG values are trees of bounded depth");
    }
  }

  private void writeNdArray(NdArray a) {
    writeNdArrayExt(a.dtype(), a.shape(), a.data());
  }

  private void writePrimitiveArray(Object arr) {
    DType dt = NdArray.dtypeOfPrimitiveArray(arr);
    int n = java.lang.reflect.Array.getLength(arr);
    writeNdArrayExt(dt, new long[] {n}, NdArray.primitiveToBytes(arr, dt));
  }

  /** ext 3: [dtype, shape, bin data | buffer index]. */
  private void writeNdArrayExt(DType dt, long[] shape, ByteBuffer data) {
    int nbytes = data.remaining();
    boolean oob = nbytes > 0 && nbytes >= oobThreshold;
    MsgpackWriter p = new MsgpackWriter(16 + 9 * shape.length + (oob ? 0 : nbytes));
    p.writeArrayHeader(3);
    p.writeString(dt.typestr());
    p.writeArrayHeader(shape.length);
    for (long d : shape) {
      p.writeLong(d);
    }
    if (oob) {
      p.writeLong(buffers.size());
      buffers.add(data);
    } else {
      p.writeBin(data);
    }
    out.writeExtHeader(3, p.size());
    out.writeRaw(p.toByteArray(), 0, p.size());
  }

  /** A protobuf message serialized deterministically (map entries sorted by key). */
  static byte[] deterministic(MessageLite m) {
    byte[] b = new byte[m.getSerializedSize()];
    CodedOutputStream cos = CodedOutputStream.newInstance(b);
    cos.useDeterministicSerialization();
    try {
      m.writeTo(cos);
      cos.checkNoSpaceLeft();
    } catch (IOException e) {
      throw new IllegalStateException("serializing " + m.getClass().getSimpleName(), e);
    }
    return b;
  }

  private static String keyText(Object k) {
    if (k instanceof String) {
      String s = (String) k;
      return "\"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
    }
    if (k == null || k instanceof Number || k instanceof Boolean) {
      return String.valueOf(k);
    }
    return typeName(k);
  }

  static String typeName(Object o) {
    return o == null ? "null" : o.getClass().getTypeName();
  }
}

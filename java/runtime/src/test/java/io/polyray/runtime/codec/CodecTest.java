package io.polyray.runtime.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.api.Language;
import io.polyray.api.exception.CrossLanguageException;
import io.polyray.api.exception.PolyRayException;
import io.polyray.api.exception.TaskException;
import io.polyray.api.exception.WorkerCrashedException;
import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.FunctionDescriptor;
import io.polyray.runtime.proto.ObjectRef;
import io.polyray.runtime.proto.PythonFunctionDescriptor;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.ref.ObjectRefImpl;
import io.polyray.runtime.ref.PyActorHandleImpl;
import io.polyray.runtime.ref.RefHooks;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Round trips of every type, canonical forms, and error cases. */
class CodecTest {
  private final Codec codec = new Codec(RefHooks.INSTANCE);

  private Object rt(Object v) {
    return codec.decode(codec.encode(v).toEnvelope());
  }

  private String hex(Object v) {
    Encoded e = codec.encode(v);
    byte[] b = new byte[e.body().remaining()];
    e.body().get(b);
    return Hex.of(b);
  }

  @Test
  void scalarsRoundTrip() {
    assertNull(rt(null));
    assertEquals(true, rt(true));
    assertEquals(false, rt(false));
    for (long v : new long[] {0, 1, 127, 128, 255, 256, 65535, 65536, -1, -32, -33, -128, -129, -32768, -32769,
        Integer.MIN_VALUE, Integer.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE}) {
      assertEquals(v, rt(v), "int " + v);
    }
    assertEquals(5L, rt(5)); // Integer encodes as int, decodes as Long
    assertEquals(5L, rt((short) 5));
    assertEquals(-5L, rt((byte) -5));
    BigInteger u64 = new BigInteger("18446744073709551615");
    assertEquals(u64, rt(u64));
    assertEquals(7L, rt(BigInteger.valueOf(7)));
    assertEquals(1.5, rt(1.5));
    assertEquals(1.5, rt(1.5f)); // float32 values go as float64
    assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits((Double) rt(-0.0)));
    assertTrue(Double.isNaN((Double) rt(Double.NaN)));
    assertEquals("", rt(""));
    String s = "h\u00e9llo \u2713 \ud83d\ude00";
    assertEquals(s, rt(s));
    assertEquals("x", rt('x'));
    String long300 = "\u00e9".repeat(300); // 600 UTF-8 bytes: str16 header after a multi-byte rewrite
    assertEquals(long300, rt(long300));
    assertEquals("da0258", hex(long300).substring(0, 6));
    String at31 = "\u00e9".repeat(20); // 20 chars, 40 bytes: fixstr is not enough
    assertEquals("d928", hex(at31).substring(0, 4));
    assertArrayEquals(new byte[] {1, 2}, (byte[]) rt(new byte[] {1, 2}));
    assertArrayEquals(new byte[] {3, 4}, (byte[]) rt(ByteBuffer.wrap(new byte[] {9, 3, 4}, 1, 2)));
  }

  @Test
  void canonicalForms() {
    assertEquals("cf7fffffffffffffff", hex(Long.MAX_VALUE));
    assertEquals("d0df", hex(-33L));
    assertEquals("cb3ff8000000000000", hex(1.5f));
    assertEquals("c400", hex(new byte[0]));
    assertEquals("90", hex(List.of()));
    assertEquals("dc0010", hex(new ArrayList<>(java.util.Collections.nCopies(16, 0L))).substring(0, 6));
    Map<Object, Object> m = new LinkedHashMap<>();
    m.put("b", 1L);
    m.put("a", 2L);
    assertEquals("82a16201a16102", hex(m), "insertion order, never sorted");
  }

  @Test
  void containersRoundTrip() {
    List<Object> list = Arrays.asList(1L, "two", 3.0, null, true, new byte[] {(byte) 0xff});
    List<?> got = (List<?>) rt(list);
    assertEquals(6, got.size());
    assertEquals("two", got.get(1));
    assertArrayEquals(new byte[] {(byte) 0xff}, (byte[]) got.get(5));
    assertEquals(List.of(1L, List.of(2L, List.of())), rt(new Object[] {1, new Object[] {2L, List.of()}}));
    Map<Object, Object> m = new LinkedHashMap<>();
    m.put("z", 1L);
    m.put(2L, "int key");
    m.put(null, "nil key");
    m.put(List.of(1L, 2L), "array key");
    Map<?, ?> back = assertInstanceOf(LinkedHashMap.class, rt(m));
    assertEquals(m, back);
    assertEquals(new ArrayList<>(m.keySet()), new ArrayList<>(back.keySet()));
  }

  @Test
  void primitiveArraysAreNdarrays() {
    long[] l = {1, -2, 3};
    assertArrayEquals(l, (long[]) rt(l));
    assertArrayEquals(new int[] {1, 2}, (int[]) rt(new int[] {1, 2}));
    assertArrayEquals(new short[] {-1, 2}, (short[]) rt(new short[] {-1, 2}));
    assertArrayEquals(new double[] {0.5}, (double[]) rt(new double[] {0.5}));
    assertArrayEquals(new float[] {0.25f}, (float[]) rt(new float[] {0.25f}));
    assertArrayEquals(new boolean[] {true, false}, (boolean[]) rt(new boolean[] {true, false}));
    // [<i4, [2], bin 8]: fixarray, fixstr 3, fixarray 1, 2, bin8 header, 8 bytes = 17-byte payload
    assertEquals("c71103" + "93a33c6934" + "9102" + "c408" + "0100000002000000", hex(new int[] {1, 2}));
    // 1-D arrays of other dtypes stay NdArrays, and keep their dtype
    NdArray u16 = NdArray.of(DType.UINT16, new long[] {2}, new byte[] {1, 0, 2, 0});
    assertEquals(u16, rt(u16));
    NdArray zeroD = NdArray.of(DType.FLOAT32, new long[0], new byte[] {0, 0, 32, 64});
    assertEquals(zeroD, rt(zeroD));
    NdArray empty = NdArray.of(DType.FLOAT64, new long[] {0, 3}, new byte[0]);
    assertEquals(empty, rt(empty));
  }

  @Test
  void largeArraysGoOutOfBandAndDecodeAsViews() {
    double[] big = new double[10_000]; // 80 KB >= 64 KiB
    Arrays.setAll(big, i -> i * 0.5);
    Encoded e = codec.encode(Arrays.asList("x", big));
    assertEquals(1, e.buffers().size());
    assertEquals(80_000, e.buffers().get(0).remaining());
    assertTrue(e.body().remaining() < 100);
    Envelope env = e.toEnvelope();
    List<?> views = (List<?>) codec.decode(env, false);
    NdArray nd = assertInstanceOf(NdArray.class, views.get(1));
    assertTrue(nd.data().isReadOnly());
    assertEquals(4999.5, nd.data().getDouble(8 * 9999));
    List<?> nat = (List<?>) codec.decode(env);
    assertArrayEquals(big, (double[]) nat.get(1));
    // re-encoding the view keeps it out of band without copying it into the body
    Encoded again = codec.encode(nd);
    assertEquals(1, again.buffers().size());
  }

  @Test
  void nativeAndUnknownExtPassThroughByteForByte() {
    NativeValue nv = new NativeValue(Language.PYTHON, new byte[] {(byte) 0x80, 5, 'K', 1, '.'});
    Encoded e = codec.encode(Arrays.asList(nv, new ExtValue(42, new byte[] {1, 2, 3})));
    List<?> back = (List<?>) codec.decode(e.toEnvelope());
    assertEquals(nv, back.get(0));
    assertEquals(Language.PYTHON, ((NativeValue) back.get(0)).language());
    assertEquals(new ExtValue(42, new byte[] {1, 2, 3}), back.get(1));
    assertEquals(e.toEnvelope(), codec.encode(back).toEnvelope());
  }

  @Test
  void referencesAreRecorded() {
    ObjectRef p = ObjectRef.newBuilder().setObjectId(ByteString.copyFrom(new byte[28])).build();
    ActorHandle h = ActorHandle.newBuilder().setActorId(ByteString.copyFrom(new byte[16]))
        .setLanguage(io.polyray.runtime.proto.Language.PYTHON)
        .setClassDescriptor(FunctionDescriptor.newBuilder().setPython(
            PythonFunctionDescriptor.newBuilder().setModule("m").setQualname("C")))
        .putMethodNumReturns("z", 2).putMethodNumReturns("a", 3).build();
    Map<Object, Object> m = new LinkedHashMap<>();
    m.put("ref", new ObjectRefImpl<Object>(p));
    m.put("actor", new PyActorHandleImpl(h));
    Encoded e = codec.encode(List.of(m));
    assertEquals(List.of(p), e.nestedRefs());
    assertEquals(List.of(h), e.nestedHandles());
    Map<?, ?> back = (Map<?, ?>) ((List<?>) codec.decode(e.toEnvelope())).get(0);
    assertEquals(p, ((ObjectRefImpl<?>) back.get("ref")).toProto());
    PyActorHandleImpl ph = assertInstanceOf(PyActorHandleImpl.class, back.get("actor"));
    assertEquals("m", ph.getModuleName());
    assertEquals(Language.PYTHON, ph.getLanguage());
  }

  @Test
  void valuesWithoutXlangFormNameTypeAndPath() {
    XlangTypeException e = assertThrows(XlangTypeException.class, () -> codec.encode(Thread.currentThread(), "return value"));
    assertEquals("return value", e.path());
    assertEquals("java.lang.Thread", e.typeName());
    assertTrue(e.getMessage().startsWith("return value (java.lang.Thread) has no XLANG form"), e.getMessage());
    Map<Object, Object> m = new LinkedHashMap<>();
    m.put("k", Arrays.asList(1L, 2L, new Object()));
    XlangTypeException nested = assertThrows(XlangTypeException.class,
        () -> codec.encode(Arrays.asList(0L, m), "argument 1"));
    assertEquals("argument 1[1][\"k\"][2]", nested.path());
    assertTrue(nested.getMessage().contains("(java.lang.Object) has no XLANG form"), nested.getMessage());
    assertTrue(assertThrows(XlangTypeException.class, () -> codec.encode(new HashSet<>(List.of(1))))
        .getMessage().contains("convert it to a List"));
    assertTrue(assertThrows(XlangTypeException.class, () -> codec.encode(Optional.of(1))).getMessage()
        .contains("java.util.Optional"));
    assertTrue(assertThrows(XlangTypeException.class, () -> codec.encode(BigInteger.ONE.shiftLeft(64)))
        .getMessage().contains("outside the 64-bit range"));
    assertTrue(assertThrows(XlangTypeException.class, () -> codec.encode("bad \ud800 surrogate"))
        .getMessage().contains("lone surrogate"));
    assertTrue(assertThrows(XlangTypeException.class, () -> codec.encode(new char[] {'a'}))
        .getMessage().contains("pass a String"));
    assertTrue(assertThrows(XlangTypeException.class, () -> codec.encode(List.of(new ArrowIpc(ByteBuffer.allocate(1)))))
        .getMessage().contains("whole value"));
    Map<Object, Object> badKey = new LinkedHashMap<>();
    badKey.put(new Object(), 1L);
    assertTrue(assertThrows(XlangTypeException.class, () -> codec.encode(badKey)).path().contains("<key"));
    List<Object> cyc = new ArrayList<>();
    cyc.add(cyc);
    assertTrue(assertThrows(XlangTypeException.class, () -> codec.encode(cyc)).getMessage().contains("a cycle?"));
  }

  @Test
  void malformedInputIsAClearError() {
    String[] bad = {"c1", "92 01", "a3 61 62", "c4 05 00", "01 02", "d6 03 00000000", "c7 03 03 93 a3 3c",
        "c7 0a 03 93 a3 3c 66 38 91 02 c4 01", "a2 c3 28"};
    for (String h : bad) {
      Envelope env = Envelope.newBuilder().setBody(ByteString.copyFrom(Hex.parse(h.replace(" ", "")))).build();
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> codec.decode(env), h);
      assertTrue(e.getMessage().contains("XLANG") || e.getMessage().contains("malformed"), e.getMessage());
    }
    // buffer index out of range
    Envelope oob = Envelope.newBuilder().setBody(ByteString.copyFrom(Hex.parse("c70903" + "93a33c693892020200"))).build();
    assertTrue(assertThrows(IllegalArgumentException.class, () -> codec.decode(oob)).getMessage()
        .contains("refers to buffer 0, the envelope has 0"));
    Envelope py = Envelope.newBuilder().setFormat(Format.FORMAT_PYTHON).build();
    assertTrue(assertThrows(IllegalArgumentException.class, () -> codec.decode(py)).getMessage().contains("pickle"));
  }

  @Test
  void nestingDepth() {
    Object v = 1L;
    for (int i = 0; i < 600; i++) {
      v = List.of(v);
    }
    Object back = rt(v);
    for (int i = 0; i < 600; i++) {
      back = ((List<?>) back).get(0);
    }
    assertEquals(1L, back);
    StringBuilder deep = new StringBuilder();
    for (int i = 0; i < 2000; i++) {
      deep.append("91");
    }
    deep.append("01");
    Envelope env = Envelope.newBuilder().setBody(ByteString.copyFrom(Hex.parse(deep.toString()))).build();
    assertTrue(assertThrows(IllegalArgumentException.class, () -> codec.decode(env)).getMessage().contains("deeper"));
  }

  @Test
  void rawArrowAndErrorEnvelopes() {
    Encoded raw = Codec.encodeRaw(new byte[] {0, 1});
    assertEquals(Format.FORMAT_RAW, raw.format());
    assertArrayEquals(new byte[] {0, 1}, (byte[]) codec.decode(raw.toEnvelope()));
    ArrowIpc ipc = new ArrowIpc(ByteBuffer.wrap(new byte[] {-1, -1, -1, -1, 0, 0, 0, 0}));
    Encoded arrow = codec.encode(ipc);
    assertEquals(Format.FORMAT_ARROW, arrow.format());
    assertArrayEquals(ipc.toByteArray(), ((ArrowIpc) codec.decode(arrow.toEnvelope())).toByteArray());
    ErrorRecord r = ErrorRecord.newBuilder().setTypeName("ValueError").setMessage("bad").build();
    assertEquals(r, codec.decode(Codec.encodeError(r).toEnvelope()));
  }

  @Test
  void arrowTableRoundTrip() {
    org.apache.arrow.memory.BufferAllocator alloc = ArrowTables.allocator();
    try (org.apache.arrow.vector.BigIntVector x = new org.apache.arrow.vector.BigIntVector("x", alloc);
         org.apache.arrow.vector.VarCharVector s = new org.apache.arrow.vector.VarCharVector("s", alloc)) {
      x.allocateNew(3);
      s.allocateNew(3);
      for (int i = 0; i < 3; i++) {
        x.set(i, 10L * (i + 1));
        s.setSafe(i, ("r" + i).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
      s.setNull(2);
      x.setValueCount(3);
      s.setValueCount(3);
      try (org.apache.arrow.vector.VectorSchemaRoot root = org.apache.arrow.vector.VectorSchemaRoot.of(x, s)) {
        Encoded enc = codec.encode(root);
        assertEquals(Format.FORMAT_ARROW, enc.format());
        Object decoded = codec.decode(enc.toEnvelope());
        ArrowIpc ipc = assertInstanceOf(ArrowIpc.class, decoded); // raw bytes still available
        assertSame(ipc, XlangConverter.convert(ipc, ArrowIpc.class, "argument 0"));
        try (org.apache.arrow.vector.VectorSchemaRoot back = (org.apache.arrow.vector.VectorSchemaRoot)
            XlangConverter.convert(ipc, org.apache.arrow.vector.VectorSchemaRoot.class, "argument 0")) {
          assertEquals(root.getSchema(), back.getSchema());
          assertEquals(3, back.getRowCount());
          assertEquals(root.contentToTSVString(), back.contentToTSVString());
          // and out again: the same stream content
          Encoded again = codec.encode(back);
          try (org.apache.arrow.vector.VectorSchemaRoot third = ArrowTables.toRoot(
              (ArrowIpc) codec.decode(again.toEnvelope()))) {
            assertEquals(root.contentToTSVString(), third.contentToTSVString());
          }
        }
      }
      assertThrows(XlangTypeException.class, () -> codec.encode(List.of(org.apache.arrow.vector.VectorSchemaRoot.of(x))));
    }
    assertThrows(IllegalArgumentException.class, () -> ArrowTables.toRoot(new ArrowIpc(ByteBuffer.wrap(new byte[] {1, 2, 3}))));
  }

  @Test
  void storeLayoutRoundTrip() {
    double[] big = new double[10_000];
    Arrays.setAll(big, i -> i);
    long[] big2 = new long[9_000];
    Arrays.setAll(big2, i -> -i);
    Encoded e = codec.encode(Arrays.asList("head", big, big2));
    StoreLayout layout = StoreLayout.of(e);
    byte[] meta = layout.metadata();
    assertEquals(StoreLayout.HEADER_SIZE + 2 * StoreLayout.ENTRY_SIZE, meta.length);
    ByteBuffer m = ByteBuffer.wrap(meta).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals("PRYE", new String(meta, 0, 4, java.nio.charset.StandardCharsets.US_ASCII));
    assertEquals(1, meta[4]);
    assertEquals(Format.FORMAT_XLANG.getNumber(), meta[5]);
    assertEquals(2, m.getInt(8));
    long body = m.getLong(16);
    assertEquals(e.body().remaining(), body);
    long off0 = m.getLong(24);
    long off1 = m.getLong(40);
    assertEquals(StoreLayout.align(body), off0);
    assertEquals(0, off1 % 64);
    assertEquals(off1 + 72_000, layout.dataSize());
    ByteBuffer data = ByteBuffer.allocateDirect((int) layout.dataSize() + 16);
    data.position(16); // write from the buffer's position
    layout.write(data);
    assertEquals(16, data.position());
    for (long i = body; i < off0; i++) {
      assertEquals(0, data.get((int) (16 + i)), "padding is zero");
    }
    StoredEnvelope s = StoreLayout.unpack(ByteBuffer.wrap(meta), data.slice());
    assertEquals(Format.FORMAT_XLANG, s.format());
    assertTrue(s.buffers().get(0).isDirect(), "views, not copies");
    List<?> back = (List<?>) codec.decode(s, true, null);
    assertArrayEquals(big, (double[]) back.get(1));
    assertArrayEquals(big2, (long[]) back.get(2));
    // bad metadata
    byte[] badMagic = meta.clone();
    badMagic[0] = 'X';
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> StoreLayout.unpack(ByteBuffer.wrap(badMagic), data.slice())).getMessage().contains("magic"));
    assertTrue(assertThrows(IllegalArgumentException.class,
        () -> StoreLayout.unpack(ByteBuffer.wrap(meta), ByteBuffer.allocate(10))).getMessage().contains("exceeds"));
    // no buffers: data size is the body length
    Encoded small = codec.encode("x");
    assertEquals(2, StoreLayout.of(small).dataSize());
  }

  @Test
  void errorRecordsAndExceptions() {
    IllegalStateException ex = new IllegalStateException("outer", new IllegalArgumentException("inner"));
    ErrorRecord r = ErrorRecords.fromThrowable(ex);
    assertEquals(ErrorKind.TASK_ERROR, r.getKind());
    assertEquals("java.lang.IllegalStateException", r.getTypeName());
    assertEquals("outer", r.getMessage());
    assertEquals(io.polyray.runtime.proto.Language.JAVA, r.getLanguage());
    assertTrue(r.getTraceback().startsWith("java.lang.IllegalStateException: outer\n\tat "), r.getTraceback());
    assertFalse(r.getTraceback().contains("Caused by"), "causes are records of their own");
    assertEquals("java.lang.IllegalArgumentException", r.getCause().getTypeName());
    PolyRayException back = ErrorRecords.toException(r);
    TaskException te = assertInstanceOf(TaskException.class, back);
    assertFalse(te instanceof CrossLanguageException);
    assertEquals(Language.JAVA, te.getLanguage());
    assertEquals("java.lang.IllegalStateException", te.getTypeName());
    assertTrue(te.getMessage().contains("Remote traceback"), te.getMessage());
    assertInstanceOf(TaskException.class, te.getCause());

    // A remote error re-raised here keeps its record as the cause of the new one.
    ErrorRecord py = ErrorRecord.newBuilder().setTypeName("ValueError").setMessage("bad")
        .setLanguage(io.polyray.runtime.proto.Language.PYTHON).setTraceback("Traceback ...").build();
    PolyRayException remote = ErrorRecords.toException(py);
    CrossLanguageException cl = assertInstanceOf(CrossLanguageException.class, remote);
    assertEquals(Language.PYTHON, cl.getLanguage());
    ErrorRecord hop = ErrorRecords.fromThrowable(new RuntimeException("wrapped", remote));
    assertEquals("java.lang.RuntimeException", hop.getTypeName());
    assertEquals("ValueError", hop.getCause().getTypeName());
    assertEquals(io.polyray.runtime.proto.Language.JAVA, hop.getCause().getLanguage());
    assertEquals(py, hop.getCause().getCause());

    PolyRayException crash = ErrorRecords.toException(
        ErrorRecords.system(ErrorKind.WORKER_CRASHED, "the worker died"));
    assertInstanceOf(WorkerCrashedException.class, crash);
    assertArrayEquals(ErrorRecords.system(ErrorKind.WORKER_CRASHED, "the worker died").toByteArray(),
        crash.getErrorRecord());
  }
}

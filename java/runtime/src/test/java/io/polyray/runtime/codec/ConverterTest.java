package io.polyray.runtime.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.api.ObjectRef;
import io.polyray.runtime.ref.ObjectRefImpl;
import io.polyray.runtime.ref.RefHooks;
import java.lang.reflect.Method;
import java.lang.reflect.Type;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Decoding for a declared Java type (docs/protocol.md §9). */
class ConverterTest {
  private final Codec codec = new Codec(RefHooks.INSTANCE, 64);

  /** Encode then decode (NdArray views, as the worker does), then convert. */
  private Object roundTrip(Object value, Type target) {
    Object decoded = codec.decode(codec.encode(value).toEnvelope(), false);
    return XlangConverter.convert(decoded, target, "argument 0 of f");
  }

  private String mismatch(Object value, Type target) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> roundTrip(value, target));
    return e.getMessage();
  }

  /** Generic parameter types to convert to. */
  @SuppressWarnings("unused")
  static void sig(List<Integer> ints, Map<String, List<Long>> m, Set<String> s, SortedMap<String, Integer> sm,
      long[][] grid, Integer[] boxed, List<long[]> rows, List<? extends Number> nums, ObjectRef<String> ref,
      List<String>[] generic) {}

  static Type param(int i) {
    for (Method m : ConverterTest.class.getDeclaredMethods()) {
      if (m.getName().equals("sig")) {
        return m.getGenericParameterTypes()[i];
      }
    }
    throw new AssertionError();
  }

  enum Color { RED, GREEN }

  @Test
  void integersWithRangeChecks() {
    assertEquals(5L, roundTrip(5, long.class));
    assertEquals(5, roundTrip(5L, int.class));
    assertEquals((short) -7, roundTrip(-7L, Short.class));
    assertEquals((byte) 127, roundTrip(127, byte.class));
    assertEquals(BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE),
        roundTrip(new BigInteger("18446744073709551615"), BigInteger.class));
    assertEquals(BigInteger.valueOf(3), roundTrip(3, BigInteger.class));
    String m = mismatch(1L << 40, int.class);
    assertEquals("argument 0 of f: expected int, got XLANG int 1099511627776 (out of range for int)", m);
    assertTrue(mismatch(128, byte.class).contains("out of range for byte"));
    assertTrue(mismatch(new BigInteger("18446744073709551615"), long.class).contains("declare BigInteger"));
    assertEquals("argument 0 of f: expected long, got XLANG str \"abc\"", mismatch("abc", long.class));
    assertEquals("argument 0 of f: expected long, got XLANG float 1.5", mismatch(1.5, long.class));
  }

  @Test
  void floatsBoolsStringsChars() {
    assertEquals(1.5, roundTrip(1.5, double.class));
    assertEquals(1.5f, roundTrip(1.5, float.class));
    assertEquals(3.0, roundTrip(3L, double.class)); // Java widens int to double
    assertTrue(mismatch(1e300, float.class).contains("out of range for float"));
    assertEquals(Float.POSITIVE_INFINITY, roundTrip(Double.POSITIVE_INFINITY, float.class));
    assertEquals(true, roundTrip(true, boolean.class));
    assertTrue(mismatch(1L, boolean.class).contains("got XLANG int 1"));
    assertEquals("x", roundTrip("x", String.class));
    assertEquals("x", roundTrip("x", CharSequence.class));
    assertEquals('x', roundTrip("x", char.class));
    assertTrue(mismatch("xy", char.class).contains("exactly one"));
    assertEquals(Color.GREEN, roundTrip("GREEN", Color.class));
    assertTrue(mismatch("BLUE", Color.class).contains("not one of [RED, GREEN]"));
  }

  @Test
  void nilIsNullForReferenceTypesOnly() {
    assertNull(roundTrip(null, String.class));
    assertNull(roundTrip(null, Long.class));
    assertNull(roundTrip(null, long[].class));
    String m = mismatch(null, long.class);
    assertTrue(m.startsWith("argument 0 of f: expected long, got XLANG nil"), m);
  }

  @Test
  void binToBytes() {
    byte[] b = {1, 2, 3};
    assertArrayEquals(b, (byte[]) roundTrip(b, byte[].class));
    ByteBuffer bb = (ByteBuffer) roundTrip(b, ByteBuffer.class);
    assertEquals(3, bb.remaining());
    assertTrue(mismatch("abc", byte[].class).contains("got XLANG str"));
  }

  @Test
  void arraysToListsArraysAndPrimitiveArrays() {
    List<Object> list = Arrays.asList(1L, 2L, 3L);
    assertEquals(List.of(1, 2, 3), roundTrip(list, param(0)));
    assertArrayEquals(new long[] {1, 2, 3}, (long[]) roundTrip(list, long[].class));
    assertArrayEquals(new int[] {1, 2, 3}, (int[]) roundTrip(list, int[].class));
    assertArrayEquals(new double[] {1, 2, 3}, (double[]) roundTrip(list, double[].class));
    assertArrayEquals(new Integer[] {1, 2, 3}, (Integer[]) roundTrip(list, param(5)));
    assertArrayEquals(new Object[] {1L, "a"}, (Object[]) roundTrip(Arrays.asList(1L, "a"), Object[].class));
    assertEquals(Set.of("a", "b"), roundTrip(Arrays.asList("a", "b"), param(2)));
    String m = mismatch(Arrays.asList(1L, "two", 3L), param(0));
    assertEquals("argument 0 of f at [1]: expected java.lang.Integer, got XLANG str \"two\"", m);
    String m2 = mismatch(Arrays.asList(1L, 1L << 40), int[].class);
    assertTrue(m2.startsWith("argument 0 of f at [1]: expected int, got XLANG int 1099511627776"), m2);
    List<String>[] gen = castArray(roundTrip(Arrays.asList(Arrays.asList("a"), Arrays.asList("b", "c")), param(9)));
    assertEquals(List.of("b", "c"), gen[1]);
  }

  @SuppressWarnings("unchecked")
  private static List<String>[] castArray(Object o) {
    return (List<String>[]) o;
  }

  @Test
  void ndarraysToPrimitiveArrays() {
    long[] big = new long[100]; // 800 bytes: out of band with this codec's threshold
    Arrays.setAll(big, i -> i);
    assertArrayEquals(big, (long[]) roundTrip(big, long[].class));
    int[] ints = (int[]) roundTrip(big, int[].class);
    assertEquals(99, ints[99]);
    assertEquals(99.0, ((double[]) roundTrip(big, double[].class))[99]);
    assertEquals(4950L, ((List<?>) roundTrip(big, param(0))).stream().mapToLong(x -> (Integer) x).sum());
    long[] tooBig = {1L << 40};
    assertTrue(mismatch(tooBig, int[].class).contains("element 0 = 1099511627776 is out of range for int"));
    assertTrue(mismatch(new double[] {1.5}, long[].class).contains("floats do not convert to integers"));
    assertTrue(mismatch(new boolean[] {true}, int[].class).contains("got XLANG ndarray |b1[1]"));
    assertArrayEquals(new float[] {1.5f}, (float[]) roundTrip(new double[] {1.5}, float[].class));
    // unsigned dtypes
    NdArray u8 = NdArray.of(DType.UINT64, new long[] {2}, new byte[] {1, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1});
    assertTrue(mismatch(u8, long[].class).contains("element 1 = 18446744073709551615 is out of range"));
    NdArray u1 = NdArray.of(DType.UINT8, new long[] {2}, new byte[] {(byte) 200, 1});
    assertArrayEquals(new byte[] {(byte) 200, 1}, (byte[]) roundTrip(u1, byte[].class));
    assertArrayEquals(new int[] {200, 1}, (int[]) roundTrip(u1, int[].class));
  }

  @Test
  void multiDimensionalArrays() {
    byte[] data = new byte[6 * 8];
    ByteBuffer.wrap(data).order(java.nio.ByteOrder.LITTLE_ENDIAN).asLongBuffer().put(new long[] {0, 1, 2, 3, 4, 5});
    NdArray grid = NdArray.of(DType.INT64, new long[] {2, 3}, data);
    long[][] g = (long[][]) roundTrip(grid, param(4));
    assertArrayEquals(new long[] {3, 4, 5}, g[1]);
    @SuppressWarnings("unchecked")
    List<long[]> rows = (List<long[]>) roundTrip(grid, param(6));
    assertArrayEquals(new long[] {0, 1, 2}, rows.get(0));
    NdArray same = (NdArray) roundTrip(grid, NdArray.class);
    assertEquals(grid, same);
    String m = mismatch(grid, long[].class);
    assertTrue(m.contains("declare long[][] or NdArray"), m);
    // Object targets get the natural form: 1-D arrays of Java types become primitive arrays.
    Object nat = roundTrip(Arrays.asList(new long[] {1, 2}, grid), Object.class);
    assertInstanceOf(long[].class, ((List<?>) nat).get(0));
    assertInstanceOf(NdArray.class, ((List<?>) nat).get(1));
  }

  @Test
  void mapsWithGenericKeysAndValues() {
    Map<Object, Object> m = new LinkedHashMap<>();
    m.put("b", Arrays.asList(1L, 2L));
    m.put("a", new ArrayList<>());
    Object got = roundTrip(m, param(1));
    assertEquals(Map.of("b", List.of(1L, 2L), "a", List.of()), got);
    assertEquals(List.of("b", "a"), new ArrayList<>(((Map<?, ?>) got).keySet()), "order kept");
    Map<Object, Object> n = new LinkedHashMap<>();
    n.put("z", 1L);
    n.put("y", 2L);
    TreeMap<?, ?> sorted = assertInstanceOf(TreeMap.class, roundTrip(n, param(3)));
    assertEquals("y", sorted.firstKey());
    Map<Object, Object> bad = new LinkedHashMap<>();
    bad.put("k", Arrays.asList(1L, "x"));
    String msg = mismatch(bad, param(1));
    assertEquals("argument 0 of f at [\"k\"][1]: expected java.lang.Long, got XLANG str \"x\"", msg);
    Map<Object, Object> badKey = new LinkedHashMap<>();
    badKey.put(3L, List.of());
    assertTrue(mismatch(badKey, param(1)).startsWith("argument 0 of f at <key 3>: expected java.lang.String"));
    assertTrue(mismatch(List.of(), Map.class).contains("expected java.util.Map, got XLANG array of 0"));
  }

  @Test
  void referencesAndWildcards() {
    io.polyray.runtime.proto.ObjectRef p = io.polyray.runtime.proto.ObjectRef.newBuilder()
        .setObjectId(com.google.protobuf.ByteString.copyFrom(new byte[28])).build();
    Object r = roundTrip(new ObjectRefImpl<String>(p), param(8));
    assertInstanceOf(ObjectRef.class, r);
    assertTrue(mismatch(1L, param(8)).contains("expected io.polyray.api.ObjectRef<java.lang.String>, got XLANG int 1"));
    assertTrue(mismatch(new ObjectRefImpl<String>(p), String.class).contains("got XLANG ObjectRef"));
    assertEquals(List.of(1L, 2.5), roundTrip(Arrays.asList(1L, 2.5), param(7)));
    Object same = roundTrip("s", java.io.Serializable.class);
    assertSame(String.class, same.getClass());
  }

  /** An async actor method's declared result type. */
  static java.util.concurrent.CompletableFuture<List<Long>> asyncResult;

  @Test
  void anAsyncMethodsResultBecomesACompletedFutureOfTheConvertedValue() throws Exception {
    Type t = ConverterTest.class.getDeclaredField("asyncResult").getGenericType();
    Object v = XlangConverter.convert(new ArrayList<>(List.of(1L, 2L)), t, "r");
    java.util.concurrent.CompletableFuture<?> f = assertInstanceOf(java.util.concurrent.CompletableFuture.class, v);
    assertTrue(f.isDone());
    assertEquals(List.of(1L, 2L), f.join());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> XlangConverter.convert("x", t, "r"));
    assertTrue(e.getMessage().contains("expected"), e.getMessage());
  }
}

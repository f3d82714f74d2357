package io.polyray.runtime.codec;

import java.lang.reflect.Array;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Converts decoded XLANG values to the Java type a method declares (docs/protocol.md §9): int →
 * long/int/short/byte (and boxes, BigInteger, with a range check), float → double/float
 * (int accepted too, as Java widens), array → List/Collection/Set/Object[]/typed
 * arrays/primitive arrays (element by element, following generic type arguments),
 * ndarray → primitive arrays of a compatible element type ({@code long[][]} for a 2-D
 * array) or {@link NdArray}, map → Map/SortedMap, str → String/char/enum constant,
 * bin → byte[]/ByteBuffer, nil → null for reference types. A target of type Object gets
 * the natural value: 1-D ndarrays of a Java primitive type become primitive arrays.
 *
 * <p>A mismatch is an {@link IllegalArgumentException} naming the argument, where inside
 * it, the expected Java type and the XLANG type received.
 */
public final class XlangConverter {
  private XlangConverter() {}

  /** A failed conversion, thrown up the value to collect the path. */
  private static final class Fail extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final transient Object value;
    final transient Type target;
    final String detail;
    final Deque<String> path = new ArrayDeque<>();

    Fail(Object value, Type target, String detail) {
      super(detail, null, false, false);
      this.value = value;
      this.target = target;
      this.detail = detail;
    }
  }

  /**
   * Converts {@code value} to {@code target}.
   *
   * @param value a value as the codec decodes it (ndarrays may be NdArray views)
   * @param target the declared Java type (a Class or a generic type)
   * @param what names the value in errors, e.g. {@code argument 1 of pkg.C.add(long,long)}
   * @return the converted value (boxed for primitive targets; a completed future of the
   *     converted value for a {@code CompletableFuture<T>}, {@code CompletionStage<T>} or
   *     {@code Future<T>} target, as an async actor method's result)
   * @throws IllegalArgumentException when the value does not fit the type
   */
  public static Object convert(Object value, Type target, String what) {
    Class<?> raw = rawClass(target);
    if (raw == java.util.concurrent.CompletableFuture.class || raw == java.util.concurrent.CompletionStage.class
        || raw == java.util.concurrent.Future.class) {
      // The result of an async actor method (it returned a future; its value travelled):
      // a completed future of the value, so a caller's ObjectRef<CompletableFuture<T>> holds
      // what its type says.
      Type inner = target instanceof ParameterizedType
          ? ((ParameterizedType) target).getActualTypeArguments()[0] : Object.class;
      Object v = rawClass(inner) == Object.class ? natural(value) : convert(value, inner, what);
      return java.util.concurrent.CompletableFuture.completedFuture(v);
    }
    try {
      return conv(value, target);
    } catch (Fail f) {
      StringBuilder where = new StringBuilder(what);
      if (!f.path.isEmpty()) {
        where.append(" at ");
        for (String s : f.path) {
          where.append(s);
        }
      }
      where.append(": expected ").append(javaTypeName(f.target)).append(", got XLANG ")
          .append(describe(f.value));
      if (f.detail != null && !f.detail.isEmpty()) {
        where.append(" (").append(f.detail).append(')');
      }
      throw new IllegalArgumentException(where.toString());
    }
  }

  /**
   * The value as code without a declared type gets it: 1-D ndarrays of long, int,
   * short, double, float or bool become Java primitive arrays (copies), inside Lists
   * and Maps too (which are changed in place: they must be decoder-made).
   *
   * @param value a decoded value
   * @return the natural value
   */
  public static Object natural(Object value) {
    if (JavaNative.is(value)) {
      return JavaNative.read((NativeValue) value);
    }
    if (value instanceof NdArray) {
      NdArray a = (NdArray) value;
      if (a.ndim() == 1 && XlangDecoder.hasPrimitiveForm(a.dtype())) {
        return a.toPrimitiveArray();
      }
      return a;
    }
    if (value instanceof List) {
      @SuppressWarnings("unchecked")
      List<Object> list = (List<Object>) value;
      for (int i = 0, n = list.size(); i < n; i++) {
        Object e = list.get(i);
        if (e instanceof NdArray || e instanceof List || e instanceof Map || JavaNative.is(e)) {
          list.set(i, natural(e));
        }
      }
      return list;
    }
    if (value instanceof Map) {
      @SuppressWarnings("unchecked")
      Map<Object, Object> map = (Map<Object, Object>) value;
      for (Map.Entry<Object, Object> e : map.entrySet()) {
        Object v = e.getValue();
        if (v instanceof NdArray || v instanceof List || v instanceof Map || JavaNative.is(v)) {
          e.setValue(natural(v));
        }
      }
      return map;
    }
    return value;
  }

  private static Object conv(Object v, Type t) {
    Class<?> raw = rawClass(t);
    if (raw == Object.class) {
      return natural(v);
    }
    if (JavaNative.is(v) && raw != NativeValue.class) {
      Object o;
      try {
        o = JavaNative.read((NativeValue) v);
      } catch (IllegalArgumentException e) {
        throw new Fail(v, t, e.getMessage());
      }
      if (raw.isInstance(o) || (raw.isPrimitive() && o != null)) {
        return raw.isPrimitive() ? scalar(o, t, raw) : o;
      }
      throw new Fail(v, t, "the Java-native value is a " + (o == null ? "null" : o.getClass().getTypeName()));
    }
    if (v instanceof ArrowIpc && raw == org.apache.arrow.vector.VectorSchemaRoot.class) {
      return ArrowTables.toRoot((ArrowIpc) v);
    }
    if (v == null) {
      if (raw.isPrimitive()) {
        throw new Fail(v, t, "nil cannot be a primitive; declare the boxed type to accept null");
      }
      return null;
    }
    if (raw.isPrimitive() || isBox(raw)) {
      return scalar(v, t, raw);
    }
    if (raw == String.class || raw == CharSequence.class) {
      if (v instanceof String) {
        return v;
      }
      throw new Fail(v, t, null);
    }
    if (raw == BigInteger.class) {
      if (v instanceof BigInteger) {
        return v;
      }
      if (isIntegral(v)) {
        return BigInteger.valueOf(((Number) v).longValue());
      }
      throw new Fail(v, t, null);
    }
    if (raw == Number.class) {
      if (v instanceof Number) {
        return v;
      }
      throw new Fail(v, t, null);
    }
    if (raw == byte[].class) {
      if (v instanceof byte[]) {
        return v;
      }
      if (v instanceof NdArray && ((NdArray) v).ndim() == 1
          && (((NdArray) v).dtype() == DType.INT8 || ((NdArray) v).dtype() == DType.UINT8)) {
        return ((NdArray) v).toPrimitiveArray();
      }
      if (v instanceof List) {
        return listToArray((List<?>) v, t, raw);
      }
      throw new Fail(v, t, null);
    }
    if (raw == ByteBuffer.class) {
      if (v instanceof byte[]) {
        return ByteBuffer.wrap((byte[]) v);
      }
      throw new Fail(v, t, null);
    }
    if (raw == NdArray.class) {
      if (v instanceof NdArray) {
        return v;
      }
      if (NdArray.dtypeOfPrimitiveArray(v) != null) {
        return NdArray.of(v);
      }
      throw new Fail(v, t, null);
    }
    if (raw.isInstance(v) && !Collection.class.isAssignableFrom(raw) && !Map.class.isAssignableFrom(raw)
        && raw != Iterable.class) {
      return raw.isArray() ? v : natural(v); // Serializable, Comparable, a matching array...
    }
    if (raw.isArray()) {
      return array(v, t, raw);
    }
    if (raw.isAssignableFrom(ArrayList.class)) {
      return collection(v, t, new ArrayList<>());
    }
    if (raw.isAssignableFrom(LinkedHashSet.class)) {
      return collection(v, t, new LinkedHashSet<>());
    }
    if (raw.isAssignableFrom(TreeSet.class)) {
      return collection(v, t, new TreeSet<>());
    }
    if (raw.isAssignableFrom(LinkedHashMap.class)) {
      return map(v, t, new LinkedHashMap<>());
    }
    if (raw.isAssignableFrom(TreeMap.class)) {
      return map(v, t, new TreeMap<>());
    }
    if (raw.isEnum() && v instanceof String) {
      for (Object c : raw.getEnumConstants()) {
        if (((Enum<?>) c).name().equals(v)) {
          return c;
        }
      }
      throw new Fail(v, t, "not one of " + Arrays.toString(raw.getEnumConstants()));
    }
    if (raw.isInstance(v)) {
      return v;
    }
    throw new Fail(v, t, null);
  }

  // ------------------------------------------------------------------ scalars

  private static boolean isBox(Class<?> c) {
    return c == Long.class || c == Integer.class || c == Short.class || c == Byte.class
        || c == Double.class || c == Float.class || c == Boolean.class || c == Character.class;
  }

  private static boolean isIntegral(Object v) {
    return v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte;
  }

  private static Object scalar(Object v, Type t, Class<?> raw) {
    if (raw == long.class || raw == Long.class) {
      return integral(v, t, Long.MIN_VALUE, Long.MAX_VALUE);
    }
    if (raw == int.class || raw == Integer.class) {
      return (int) integral(v, t, Integer.MIN_VALUE, Integer.MAX_VALUE);
    }
    if (raw == double.class || raw == Double.class) {
      if (v instanceof Double || v instanceof Float || isIntegral(v)) {
        return ((Number) v).doubleValue();
      }
      throw new Fail(v, t, null);
    }
    if (raw == boolean.class || raw == Boolean.class) {
      if (v instanceof Boolean) {
        return v;
      }
      throw new Fail(v, t, null);
    }
    if (raw == float.class || raw == Float.class) {
      if (v instanceof Double || v instanceof Float) {
        double d = ((Number) v).doubleValue();
        if (Double.isFinite(d) && Math.abs(d) > Float.MAX_VALUE) {
          throw new Fail(v, t, "out of range for float");
        }
        return (float) d;
      }
      if (isIntegral(v)) {
        return ((Number) v).floatValue();
      }
      throw new Fail(v, t, null);
    }
    if (raw == short.class || raw == Short.class) {
      return (short) integral(v, t, Short.MIN_VALUE, Short.MAX_VALUE);
    }
    if (raw == byte.class || raw == Byte.class) {
      return (byte) integral(v, t, Byte.MIN_VALUE, Byte.MAX_VALUE);
    }
    if (raw == char.class || raw == Character.class) {
      if (v instanceof String && ((String) v).length() == 1) {
        return ((String) v).charAt(0);
      }
      throw new Fail(v, t, v instanceof String ? "a char takes a str of exactly one UTF-16 unit" : null);
    }
    throw new Fail(v, t, null);
  }

  private static long integral(Object v, Type t, long min, long max) {
    if (isIntegral(v)) {
      long x = ((Number) v).longValue();
      if (x < min || x > max) {
        throw new Fail(v, t, "out of range for " + javaTypeName(t));
      }
      return x;
    }
    if (v instanceof BigInteger) {
      throw new Fail(v, t, "out of range for " + javaTypeName(t) + "; declare BigInteger for uint64 values");
    }
    throw new Fail(v, t, null);
  }

  // ------------------------------------------------------------------- arrays

  private static Object array(Object v, Type t, Class<?> raw) {
    Class<?> comp = raw.getComponentType();
    if (comp.isPrimitive()) {
      if (v instanceof NdArray || NdArray.dtypeOfPrimitiveArray(v) != null) {
        return primitiveArray(v, t, raw);
      }
      if (v instanceof List) {
        return listToArray((List<?>) v, t, raw);
      }
      throw new Fail(v, t, null);
    }
    Type compType = t instanceof GenericArrayType ? ((GenericArrayType) t).getGenericComponentType() : comp;
    if (v instanceof List) {
      return listToArray((List<?>) v, t, raw);
    }
    if (v instanceof NdArray && ((NdArray) v).ndim() >= 1) {
      NdArray nd = (NdArray) v;
      if (nd.ndim() == 1) {
        return boxedToArray(nd.toPrimitiveArray(), t, raw, compType);
      }
      List<NdArray> rows = rows(nd);
      Object out = Array.newInstance(comp, rows.size());
      for (int i = 0; i < rows.size(); i++) {
        Array.set(out, i, child(rows.get(i), compType, "[" + i + "]"));
      }
      return out;
    }
    if (NdArray.dtypeOfPrimitiveArray(v) != null) {
      return boxedToArray(v, t, raw, compType);
    }
    throw new Fail(v, t, null);
  }

  private static Object boxedToArray(Object prim, Type t, Class<?> raw, Type compType) {
    int n = Array.getLength(prim);
    Object out = Array.newInstance(raw.getComponentType(), n);
    for (int i = 0; i < n; i++) {
      Array.set(out, i, child(Array.get(prim, i), compType, "[" + i + "]"));
    }
    return out;
  }

  private static Object listToArray(List<?> list, Type t, Class<?> raw) {
    Class<?> comp = raw.getComponentType();
    Type compType = t instanceof GenericArrayType ? ((GenericArrayType) t).getGenericComponentType() : comp;
    int n = list.size();
    Object out = Array.newInstance(comp, n);
    for (int i = 0; i < n; i++) {
      Array.set(out, i, child(list.get(i), compType, "[" + i + "]"));
    }
    return out;
  }

  private static Object child(Object v, Type t, String seg) {
    try {
      return conv(v, t);
    } catch (Fail f) {
      f.path.addFirst(seg);
      throw f;
    }
  }

  /** The sub-arrays along axis 0 of an array of 2 or more dimensions (views). */
  private static List<NdArray> rows(NdArray nd) {
    long[] shape = nd.shape();
    long[] sub = Arrays.copyOfRange(shape, 1, shape.length);
    int rowBytes = (int) (NdArray.elementCount(sub) * nd.dtype().itemSize());
    ByteBuffer data = nd.data();
    List<NdArray> out = new ArrayList<>((int) shape[0]);
    for (int i = 0; i < shape[0]; i++) {
      ByteBuffer r = data.duplicate();
      r.position(i * rowBytes).limit((i + 1) * rowBytes);
      out.add(new NdArray(nd.dtype(), sub, r, nd.keepAlive()));
    }
    return out;
  }

  /** An ndarray or a primitive array as a primitive array of class {@code raw}. */
  private static Object primitiveArray(Object v, Type t, Class<?> raw) {
    if (v.getClass() == raw) {
      return v;
    }
    NdArray nd = v instanceof NdArray ? (NdArray) v : NdArray.of(v);
    if (nd.ndim() != 1) {
      throw new Fail(v, t, "declare " + raw.getComponentType() + "[]".repeat(Math.max(1, nd.ndim()))
          + " or NdArray for an array of " + nd.ndim() + " dimensions");
    }
    Class<?> comp = raw.getComponentType();
    DType dt = nd.dtype();
    int n = (int) nd.size();
    ByteBuffer b = nd.data();
    if (comp == boolean.class) {
      if (dt != DType.BOOL) {
        throw new Fail(v, t, null);
      }
      return nd.toPrimitiveArray();
    }
    if (dt == DType.BOOL) {
      throw new Fail(v, t, null);
    }
    if (comp == byte.class && (dt == DType.INT8 || dt == DType.UINT8)) {
      return nd.toPrimitiveArray(); // bytes as they are
    }
    if (comp == long.class && dt == DType.INT64 || comp == int.class && dt == DType.INT32
        || comp == short.class && dt == DType.INT16 || comp == double.class && dt == DType.FLOAT64
        || comp == float.class && dt == DType.FLOAT32 || comp == char.class && dt == DType.UINT16) {
      return nd.toPrimitiveArray();
    }
    if (comp == double.class || comp == float.class) {
      Object out = Array.newInstance(comp, n);
      for (int i = 0; i < n; i++) {
        double d = readDouble(b, dt, i);
        if (comp == double.class) {
          Array.setDouble(out, i, d);
        } else {
          Array.setFloat(out, i, (float) d);
        }
      }
      return out;
    }
    if (!dt.isInteger()) {
      throw new Fail(v, t, "floats do not convert to integers");
    }
    long min;
    long max;
    if (comp == long.class) {
      min = Long.MIN_VALUE;
      max = Long.MAX_VALUE;
    } else if (comp == int.class) {
      min = Integer.MIN_VALUE;
      max = Integer.MAX_VALUE;
    } else if (comp == short.class) {
      min = Short.MIN_VALUE;
      max = Short.MAX_VALUE;
    } else if (comp == byte.class) {
      min = Byte.MIN_VALUE;
      max = Byte.MAX_VALUE;
    } else if (comp == char.class) {
      min = 0;
      max = Character.MAX_VALUE;
    } else {
      throw new Fail(v, t, null);
    }
    Object out = Array.newInstance(comp, n);
    for (int i = 0; i < n; i++) {
      long x = readLong(b, dt, i);
      boolean tooBig = dt == DType.UINT64 && x < 0;
      if (tooBig || x < min || x > max) {
        throw new Fail(v, t, "element " + i + " = "
            + (dt == DType.UINT64 ? Long.toUnsignedString(x) : Long.toString(x))
            + " is out of range for " + comp);
      }
      if (comp == long.class) {
        Array.setLong(out, i, x);
      } else if (comp == int.class) {
        Array.setInt(out, i, (int) x);
      } else if (comp == short.class) {
        Array.setShort(out, i, (short) x);
      } else if (comp == byte.class) {
        Array.setByte(out, i, (byte) x);
      } else {
        Array.setChar(out, i, (char) x);
      }
    }
    return out;
  }

  private static long readLong(ByteBuffer b, DType dt, int i) {
    switch (dt) {
      case INT8:
        return b.get(i);
      case UINT8:
        return b.get(i) & 0xffL;
      case INT16:
        return b.getShort(2 * i);
      case UINT16:
        return b.getShort(2 * i) & 0xffffL;
      case INT32:
        return b.getInt(4 * i);
      case UINT32:
        return b.getInt(4 * i) & 0xffffffffL;
      case INT64:
      case UINT64:
        return b.getLong(8 * i);
      default:
        throw new AssertionError(dt);
    }
  }

  private static double readDouble(ByteBuffer b, DType dt, int i) {
    switch (dt) {
      case FLOAT32:
        return b.getFloat(4 * i);
      case FLOAT64:
        return b.getDouble(8 * i);
      case UINT64: {
        long x = b.getLong(8 * i);
        return x >= 0 ? (double) x : new BigInteger(Long.toUnsignedString(x)).doubleValue();
      }
      default:
        return readLong(b, dt, i);
    }
  }

  // -------------------------------------------------------------- containers

  private static Object collection(Object v, Type t, Collection<Object> out) {
    Type elem = typeArg(t, Collection.class, 0);
    if (v instanceof List) {
      List<?> list = (List<?>) v;
      for (int i = 0, n = list.size(); i < n; i++) {
        out.add(child(list.get(i), elem, "[" + i + "]"));
      }
      return out;
    }
    Object prim = null;
    if (v instanceof NdArray && ((NdArray) v).ndim() == 1) {
      prim = ((NdArray) v).toPrimitiveArray();
    } else if (NdArray.dtypeOfPrimitiveArray(v) != null) {
      prim = v;
    }
    if (prim != null) {
      for (int i = 0, n = Array.getLength(prim); i < n; i++) {
        out.add(child(Array.get(prim, i), elem, "[" + i + "]"));
      }
      return out;
    }
    if (v instanceof NdArray && ((NdArray) v).ndim() > 1) {
      List<NdArray> rows = rows((NdArray) v);
      for (int i = 0; i < rows.size(); i++) {
        out.add(child(rows.get(i), elem, "[" + i + "]"));
      }
      return out;
    }
    throw new Fail(v, t, null);
  }

  private static Object map(Object v, Type t, Map<Object, Object> out) {
    if (!(v instanceof Map)) {
      throw new Fail(v, t, null);
    }
    Type kt = typeArg(t, Map.class, 0);
    Type vt = typeArg(t, Map.class, 1);
    for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
      Object k = e.getKey();
      Object key = child(k, kt, "<key " + shortText(k) + ">");
      try {
        out.put(key, child(e.getValue(), vt, "[" + shortText(k) + "]"));
      } catch (ClassCastException | NullPointerException ex) {
        // A TreeMap refuses keys that do not compare.
        throw new Fail(v, t, "keys are not comparable: " + ex.getMessage());
      }
    }
    return out;
  }

  /**
   * The {@code index}-th type argument of {@code t} as {@code iface} (e.g. the element
   * type of a {@code List<Long>}), or Object when the type is raw.
   */
  private static Type typeArg(Type t, Class<?> iface, int index) {
    if (t instanceof ParameterizedType) {
      // The collection and map types this converter builds take their type arguments
      // in the order of the interface (Iterable<E>, List<E>, Set<E>, Map<K,V>, TreeMap<K,V>).
      Type[] args = ((ParameterizedType) t).getActualTypeArguments();
      if (index < args.length) {
        return args[index];
      }
    }
    return Object.class;
  }

  /**
   * The class of a (possibly generic) type: a type variable or wildcard counts as its
   * first bound.
   *
   * @param t a type
   * @return its raw class
   */
  public static Class<?> rawClass(Type t) {
    if (t instanceof Class) {
      return (Class<?>) t;
    }
    if (t instanceof ParameterizedType) {
      return rawClass(((ParameterizedType) t).getRawType());
    }
    if (t instanceof GenericArrayType) {
      return Array.newInstance(rawClass(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
    }
    if (t instanceof TypeVariable) {
      Type[] bounds = ((TypeVariable<?>) t).getBounds();
      return bounds.length == 0 ? Object.class : rawClass(bounds[0]);
    }
    if (t instanceof WildcardType) {
      Type[] upper = ((WildcardType) t).getUpperBounds();
      return upper.length == 0 ? Object.class : rawClass(upper[0]);
    }
    return Object.class;
  }

  // ------------------------------------------------------------------ naming

  /**
   * A Java type as shown in errors.
   *
   * @param t a type
   * @return e.g. {@code long}, {@code java.util.List<java.lang.Long>}, {@code pkg.Outer$Inner}
   */
  public static String javaTypeName(Type t) {
    return t instanceof Class ? ((Class<?>) t).getTypeName() : t.getTypeName();
  }

  /**
   * The XLANG type of a decoded value, as shown in errors.
   *
   * @param v a decoded value
   * @return e.g. {@code str}, {@code int}, {@code ndarray <f8[2, 2]}, {@code ObjectRef}
   */
  public static String xlangTypeName(Object v) {
    if (v == null) {
      return "nil";
    }
    if (v instanceof Boolean) {
      return "bool";
    }
    if (isIntegral(v) || v instanceof BigInteger) {
      return "int";
    }
    if (v instanceof Double || v instanceof Float) {
      return "float";
    }
    if (v instanceof String) {
      return "str";
    }
    if (v instanceof byte[]) {
      return "bin";
    }
    if (v instanceof List || v instanceof Object[]) {
      return "array";
    }
    if (v instanceof Map) {
      return "map";
    }
    if (v instanceof NdArray) {
      NdArray a = (NdArray) v;
      return "ndarray " + a.dtype().typestr() + Arrays.toString(a.shape());
    }
    DType dt = NdArray.dtypeOfPrimitiveArray(v);
    if (dt != null) {
      return "ndarray " + dt.typestr() + "[" + Array.getLength(v) + "]";
    }
    if (v instanceof io.polyray.api.ObjectRef || v instanceof io.polyray.runtime.proto.ObjectRef) {
      return "ObjectRef";
    }
    if (v instanceof io.polyray.api.BaseActorHandle || v instanceof io.polyray.runtime.proto.ActorHandle) {
      return "ActorHandle";
    }
    if (v instanceof NativeValue) {
      NativeValue nv = (NativeValue) v;
      return "native value of " + (nv.language() == null ? "language " + nv.languageNumber() : nv.language());
    }
    if (v instanceof ExtValue) {
      return "ext " + ((ExtValue) v).type();
    }
    if (v instanceof ArrowIpc || v instanceof org.apache.arrow.vector.VectorSchemaRoot) {
      return "Arrow table";
    }
    return v.getClass().getTypeName();
  }

  private static String describe(Object v) {
    String type = xlangTypeName(v);
    if (v instanceof String) {
      return type + " " + shortText(v);
    }
    if (v instanceof Number || v instanceof Boolean) {
      return type + " " + v;
    }
    if (v instanceof List) {
      return type + " of " + ((List<?>) v).size();
    }
    if (v instanceof Map) {
      return type + " of " + ((Map<?, ?>) v).size();
    }
    if (v instanceof byte[]) {
      return type + " of " + ((byte[]) v).length + " bytes";
    }
    return type;
  }

  private static String shortText(Object k) {
    if (k instanceof String) {
      String s = (String) k;
      return "\"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
    }
    if (k == null) {
      return "nil";
    }
    if (k instanceof Number || k instanceof Boolean) {
      return String.valueOf(k);
    }
    return xlangTypeName(k);
  }
}

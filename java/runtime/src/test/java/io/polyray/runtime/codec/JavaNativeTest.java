package io.polyray.runtime.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.runtime.ref.RefHooks;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.Test;

/** Java-native values (ext 4, language JAVA) between Java ends: encode, decode, convert. */
class JavaNativeTest {
  private final Codec codec = new Codec(RefHooks.INSTANCE);

  /** A user value with no XLANG form. */
  static final class Point implements Serializable {
    private static final long serialVersionUID = 1L;
    final int x;
    final String label;

    Point(int x, String label) {
      this.x = x;
      this.label = label;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Point && ((Point) o).x == x && ((Point) o).label.equals(label);
    }

    @Override
    public int hashCode() {
      return Objects.hash(x, label);
    }
  }

  /** Not Serializable. */
  static final class Opaque {
  }

  private Object roundTrip(Object v) {
    return codec.decode(codec.encode(v, "argument 0", true).toEnvelope());
  }

  @Test
  void aSerializableValueTravelsNativeAndComesBackEqual() {
    Point p = new Point(3, "a");
    Object decoded = roundTrip(p);
    assertTrue(decoded instanceof NativeValue, "decoded as a native value of JAVA: " + decoded);
    assertEquals(io.polyray.api.Language.JAVA, ((NativeValue) decoded).language());
    assertEquals(p, XlangConverter.natural(decoded));
    assertEquals(p, XlangConverter.convert(decoded, Point.class, "the value"));
  }

  @Test
  void insideAListTheXlangPartsStayXlang() {
    List<Object> v = new ArrayList<>(List.of(1L, "s", new Point(1, "in")));
    Object got = XlangConverter.natural(roundTrip(v));
    assertEquals(List.of(1L, "s", new Point(1, "in")), got);
    Object map = XlangConverter.natural(roundTrip(Map.of("k", new Point(2, "m"))));
    assertEquals(Map.of("k", new Point(2, "m")), map);
  }

  @Test
  void withoutAJavaReaderItIsStillAnErrorNamingTheType() {
    XlangTypeException e = assertThrows(XlangTypeException.class,
        () -> codec.encode(new Point(1, "x"), "return value", false));
    assertTrue(e.getMessage().contains(Point.class.getTypeName()), e.getMessage());
    XlangTypeException notSerializable = assertThrows(XlangTypeException.class,
        () -> codec.encode(List.of(new Opaque()), "argument 1", true));
    assertTrue(notSerializable.getMessage().startsWith("argument 1[0]"), notSerializable.getMessage());
    assertTrue(notSerializable.getMessage().contains(Opaque.class.getTypeName()), notSerializable.getMessage());
  }

  @Test
  void aDeclaredTypeItIsNotIsAnErrorNamingBoth() {
    Object decoded = roundTrip(new Point(1, "x"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> XlangConverter.convert(decoded, String.class, "argument 0 of f"));
    assertTrue(e.getMessage().contains(Point.class.getTypeName()), e.getMessage());
  }

  @Test
  void theContextLoaderFirstThenTheDefaultAndBadBytesAreAnError() {
    NativeValue bad = (NativeValue) roundTrip(new Point(1, "x"));
    ClassLoader empty = new ClassLoader(null) {
      @Override
      protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (name.startsWith("java.")) {
          return super.loadClass(name, resolve);
        }
        throw new ClassNotFoundException(name);
      }
    };
    Thread t = Thread.currentThread();
    ClassLoader before = t.getContextClassLoader();
    t.setContextClassLoader(empty);
    try {
      // The context loader misses it; the default resolution (this test's loader) finds it.
      assertEquals(new Point(1, "x"), XlangConverter.natural(bad));
    } finally {
      t.setContextClassLoader(before);
    }
    NativeValue garbage = new NativeValue(io.polyray.api.Language.JAVA, new byte[] {1, 2, 3});
    assertTrue(assertThrows(IllegalArgumentException.class, () -> XlangConverter.natural(garbage)).getMessage()
        .contains("cannot be read"));
  }

  /** Holds a reference inside a Java-native value. */
  static final class HoldsRef implements Serializable {
    private static final long serialVersionUID = 1L;
    final Object ref;

    HoldsRef(Object ref) {
      this.ref = ref;
    }
  }

  @Test
  void aReferenceInsideANativeValueIsRefusedNotCarriedUncounted() {
    Object ref = new io.polyray.runtime.ref.ObjectRefImpl<>(io.polyray.runtime.proto.ObjectRef.newBuilder()
        .setObjectId(com.google.protobuf.ByteString.copyFrom(new byte[28])).build());
    XlangTypeException e = assertThrows(XlangTypeException.class,
        () -> codec.encode(new HoldsRef(ref), "argument 0", true));
    assertTrue(e.getMessage().contains("must serialize") && e.getMessage().contains("ObjectRefImpl"), e.getMessage());
  }
}

package io.polyray.runtime.codec;

import io.polyray.api.Language;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.io.Serializable;

/**
 * Java-native values (XLANG ext 4, language JAVA; docs/protocol.md §10.5): a
 * {@link Serializable} value with no XLANG form travels as its Java serialization when
 * both ends are Java (a Java caller's argument to a Java callee, a Java callee's return
 * to a Java caller). Read back with the thread's context class loader (a worker's: the
 * code search path's), so user classes resolve. Other languages see an opaque native
 * value and send it back unchanged.
 */
public final class JavaNative {
  private JavaNative() {}

  /**
   * Whether a value may travel as a Java-native value.
   *
   * @param v the value
   * @return true for a Serializable value
   */
  static boolean accepts(Object v) {
    return v instanceof Serializable;
  }

  /**
   * The native value of a Serializable object.
   *
   * @param v the object
   * @return its Java serialization as a native value of JAVA
   * @throws IllegalArgumentException when it (or a part) cannot be serialized, naming why
   */
  static NativeValue write(Object v) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(v);
    } catch (IOException e) {
      throw new IllegalArgumentException("Java serialization failed: " + e, e);
    }
    return new NativeValue(Language.JAVA, bytes.toByteArray());
  }

  /**
   * Whether a decoded value is a Java-native one.
   *
   * @param v the value
   * @return true for a native value of JAVA
   */
  static boolean is(Object v) {
    return v instanceof NativeValue && ((NativeValue) v).languageNumber() == Language.JAVA.number();
  }

  /**
   * The object of a Java-native value.
   *
   * @param v the native value
   * @return the deserialized object
   * @throws IllegalArgumentException when its class cannot be found or the bytes are bad
   */
  static Object read(NativeValue v) {
    ClassLoader ctx = Thread.currentThread().getContextClassLoader();
    try (ObjectInputStream in = new LoaderInputStream(new ByteArrayInputStream(v.data()), ctx)) {
      return in.readObject();
    } catch (ClassNotFoundException e) {
      throw new IllegalArgumentException("a Java-native value of class " + e.getMessage()
          + " cannot be read here: the class is not on this process's class path or code search path", e);
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException("a Java-native value cannot be read: " + e, e);
    }
  }

  private static final class LoaderInputStream extends ObjectInputStream {
    private final ClassLoader loader;

    LoaderInputStream(InputStream in, ClassLoader loader) throws IOException {
      super(in);
      this.loader = loader;
    }

    @Override
    protected Class<?> resolveClass(ObjectStreamClass desc) throws IOException, ClassNotFoundException {
      if (loader != null) {
        try {
          return Class.forName(desc.getName(), false, loader);
        } catch (ClassNotFoundException e) {
          // fall back to the default (primitive types, the runtime's own classes)
        }
      }
      return super.resolveClass(desc);
    }
  }
}

package io.polyray.runtime.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import org.junit.jupiter.api.Test;

/**
 * A missing library must say where it looked and what to do. The binding
 * loads the library once per class loader, so the failure is provoked in a
 * private loader that redefines this package's classes (JNA itself is shared
 * with the parent: its native part can be loaded only once per JVM).
 */
class LibraryLoadingTest {
  /** Loads io.polyray.runtime.store classes itself, everything else from the parent. */
  private static final class IsolatedLoader extends ClassLoader {
    IsolatedLoader(ClassLoader parent) {
      super(parent);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (!name.startsWith("io.polyray.runtime.store.")) {
        return super.loadClass(name, resolve);
      }
      synchronized (getClassLoadingLock(name)) {
        Class<?> c = findLoadedClass(name);
        if (c == null) {
          String path = name.replace('.', '/') + ".class";
          try (InputStream in = getParent().getResourceAsStream(path)) {
            if (in == null) {
              throw new ClassNotFoundException(name);
            }
            byte[] b = in.readAllBytes();
            c = defineClass(name, b, 0, b.length);
          } catch (IOException e) {
            throw new ClassNotFoundException(name, e);
          }
        }
        if (resolve) {
          resolveClass(c);
        }
        return c;
      }
    }
  }

  private static Throwable openIn(ClassLoader loader) throws Exception {
    Class<?> store = loader.loadClass("io.polyray.runtime.store.SharedStore");
    Method open = store.getMethod("open", String.class);
    InvocationTargetException e =
        assertThrows(InvocationTargetException.class, () -> open.invoke(null, "/polyray-none"));
    return e.getCause();
  }

  @Test
  void missingLibraryNamesThePathAndTheFix() throws Exception {
    String key = StoreNative.LIBRARY_PROPERTY;
    String saved = System.getProperty(key);
    System.setProperty(key, "/nonexistent/dir/../lib/libpolyray_store.so");
    try {
      Throwable t = openIn(new IsolatedLoader(getClass().getClassLoader()));
      assertNotNull(t);
      assertEquals(StoreLibraryException.class.getName(), t.getClass().getName());
      String msg = t.getMessage();
      assertTrue(msg.contains("/nonexistent/lib/libpolyray_store.so"), msg);
      assertTrue(msg.contains(key), msg);
      assertTrue(msg.contains("make setup"), msg);
    } finally {
      if (saved == null) {
        System.clearProperty(key);
      } else {
        System.setProperty(key, saved);
      }
    }
  }

  @Test
  void theBuiltLibraryIsUsed() {
    // Surefire points polyray.store.library at build/cpp/lib; the binding loads exactly that.
    String configured = System.getProperty(StoreNative.LIBRARY_PROPERTY);
    assertNotNull(configured, "surefire should set " + StoreNative.LIBRARY_PROPERTY);
    assertEquals(
        java.nio.file.Paths.get(configured).toAbsolutePath().normalize().toString(),
        StoreNative.loadedFrom());
  }
}

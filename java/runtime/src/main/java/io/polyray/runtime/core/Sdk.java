package io.polyray.runtime.core;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the SDK's parts are when polyray runs from a source checkout (as
 * python/polyray/sdk.py): the runtime's classes live in
 * {@code <root>/java/runtime/target/...}, the store library in
 * {@code <root>/build/cpp/lib}, the Python package in {@code <root>/python}.
 */
final class Sdk {
  static final String STORE_LIBRARY_PROPERTY = "polyray.store.library";

  private Sdk() {}

  /** The jar or classes directory the runtime was loaded from, or null. */
  static Path runtimeLocation() {
    try {
      CodeSource cs = Sdk.class.getProtectionDomain().getCodeSource();
      return cs == null ? null : Paths.get(cs.getLocation().toURI()).toAbsolutePath().normalize();
    } catch (URISyntaxException | RuntimeException e) {
      return null;
    }
  }

  /** The checkout holding the runtime ({@code <root>/java/runtime/target/X}), or null. */
  static Path repoRoot() {
    Path p = runtimeLocation();
    for (int i = 0; p != null && i < 6; i++, p = p.getParent()) {
      if (Files.isDirectory(p.resolve("java").resolve("runtime")) && Files.isDirectory(p.resolve("proto"))) {
        return p;
      }
    }
    return null;
  }

  /**
   * Points {@code polyray.store.library} at the checkout's store library when neither it
   * nor {@code POLYRAY_STORE_LIB} is set, so a driver started with just the SDK class path
   * finds the library.
   */
  static void ensureStoreLibraryProperty() {
    String prop = System.getProperty(STORE_LIBRARY_PROPERTY);
    String env = System.getenv("POLYRAY_STORE_LIB");
    if ((prop != null && !prop.isBlank()) || (env != null && !env.isBlank())) {
      return;
    }
    Path root = repoRoot();
    if (root != null) {
      Path lib = root.resolve("build").resolve("cpp").resolve("lib").resolve("libpolyray_store.so");
      if (Files.isRegularFile(lib)) {
        System.setProperty(STORE_LIBRARY_PROPERTY, lib.toString());
      }
    }
  }

  /**
   * The driver's own class path without the polyray SDK (its jars, the runtime's lib/
   * directory) and without the JDK: the default code search path of a Java driver.
   */
  static List<String> userClassPath() {
    List<String> out = new ArrayList<>();
    String cp = System.getProperty("java.class.path", "");
    Path runtime = runtimeLocation();
    Path lib = runtime == null ? null : (Files.isDirectory(runtime) ? runtime.getParent() : runtime.getParent())
        .resolve("lib");
    for (String e : cp.split(File.pathSeparator)) {
      if (e.isEmpty()) {
        continue;
      }
      Path p = Paths.get(e).toAbsolutePath().normalize();
      String name = p.getFileName() == null ? "" : p.getFileName().toString();
      if (name.startsWith("polyray-api") || name.startsWith("polyray-runtime") || p.equals(runtime)) {
        continue;
      }
      if (lib != null && p.startsWith(lib)) {
        continue;
      }
      if (p.toString().endsWith(File.separator + "api" + File.separator + "target" + File.separator + "classes")) {
        continue;
      }
      out.add(p.toString());
    }
    return out;
  }
}

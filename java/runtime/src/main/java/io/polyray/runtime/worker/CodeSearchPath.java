package io.polyray.runtime.worker;

import java.io.File;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The class loader of user code: the job's code search path, directories (of classes)
 * and jars, plus the jars found directly inside each listed directory. Entries can be
 * added later (a task may carry its job's path).
 *
 * <p>Child-first (java/README.md, "Isolation of user code"): the JDK's classes come from
 * the platform loader and {@code io.polyray.api.*} from the runtime's loader (the parent),
 * so user code and the runtime share one API; every other class and resource is looked
 * up on the code search path first, so a library bundled with the user's code (guava,
 * protobuf-java, jackson, an slf4j binding) wins over the runtime's own copy. Only a
 * class the code search path does not have falls back to the parent.
 */
public final class CodeSearchPath extends URLClassLoader {
  static {
    ClassLoader.registerAsParallelCapable();
  }

  private final Set<String> entries = Collections.synchronizedSet(new LinkedHashSet<>());
  /** The JDK's loader: java.*, javax.* of the JDK, jdk.*, ... always come from it. */
  private static final ClassLoader PLATFORM = ClassLoader.getPlatformClassLoader();
  /** Packages always taken from the parent: the API user code and the runtime share. */
  private static final String[] PARENT_FIRST = {"io.polyray.api."};

  /**
   * Whether a class is always loaded by the parent.
   *
   * @param name a binary class name
   * @return true for the polyray API
   */
  static boolean parentFirst(String name) {
    for (String p : PARENT_FIRST) {
      if (name.startsWith(p)) {
        return true;
      }
    }
    return false;
  }

  @Override
  protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
    synchronized (getClassLoadingLock(name)) {
      Class<?> c = findLoadedClass(name);
      if (c == null) {
        if (name.startsWith("java.")) {
          return PLATFORM.loadClass(name); // never defined by another loader
        }
        if (parentFirst(name)) {
          c = getParent().loadClass(name);
        } else {
          try {
            c = PLATFORM.loadClass(name);
          } catch (ClassNotFoundException e) {
            // not the JDK's
          }
          if (c == null) {
            try {
              c = findClass(name);
            } catch (ClassNotFoundException e) {
              c = getParent().loadClass(name); // not bundled by the user: the runtime's copy
            }
          }
        }
      }
      if (resolve) {
        resolveClass(c);
      }
      return c;
    }
  }

  @Override
  public URL getResource(String name) {
    URL u = PLATFORM.getResource(name);
    if (u == null) {
      u = findResource(name);
    }
    return u != null ? u : getParent().getResource(name);
  }

  @Override
  public java.util.Enumeration<URL> getResources(String name) throws IOException {
    // The code search path's first (a ServiceLoader then finds the user's providers, such
    // as an slf4j binding, before any of the runtime's).
    List<URL> out = new ArrayList<>(Collections.list(findResources(name)));
    for (URL u : Collections.list(getParent().getResources(name))) {
      if (!out.contains(u)) {
        out.add(u);
      }
    }
    return Collections.enumeration(out);
  }

  /**
   * A loader over {@code entries}.
   *
   * @param entries directories and jar files (missing ones are remembered but add nothing)
   * @param parent the loader of the runtime
   */
  public CodeSearchPath(List<String> entries, ClassLoader parent) {
    // Unnamed: stack frames of user classes then print without a loader prefix.
    super(new URL[0], parent);
    add(entries);
  }

  /**
   * Parses a {@code :}-separated path (empty parts are skipped).
   *
   * @param path e.g. the value of POLYRAY_CODE_SEARCH_PATH
   * @return the entries
   */
  public static List<String> split(String path) {
    List<String> out = new ArrayList<>();
    if (path != null) {
      for (String p : path.split(File.pathSeparator)) {
        if (!p.isEmpty()) {
          out.add(p);
        }
      }
    }
    return out;
  }

  /**
   * Adds entries not seen before.
   *
   * @param more directories and jars
   */
  public void add(List<String> more) {
    for (String e : more) {
      if (e.isEmpty() || !entries.add(e)) {
        continue;
      }
      Path p = Paths.get(e).toAbsolutePath().normalize();
      try {
        if (Files.isDirectory(p)) {
          addURL(p.toUri().toURL()); // a URL ending in '/' is a class directory
          List<Path> jars = new ArrayList<>();
          try (DirectoryStream<Path> ds = Files.newDirectoryStream(p, "*.jar")) {
            for (Path j : ds) {
              jars.add(j);
            }
          } catch (IOException ex) {
            // unreadable directory: its classes may still load through the URL above
          }
          Collections.sort(jars); // a stable order when two jars hold the same class
          for (Path j : jars) {
            addURL(j.toUri().toURL());
          }
        } else if (Files.isRegularFile(p)) {
          addURL(p.toUri().toURL());
        }
      } catch (MalformedURLException ex) {
        // Paths always make valid file URLs; nothing to add otherwise.
      }
    }
  }

  /**
   * The entries as given, in order.
   *
   * @return the code search path
   */
  public List<String> entries() {
    synchronized (entries) {
      return new ArrayList<>(entries);
    }
  }

  /**
   * Describes where classes were searched, for "class not found" errors.
   *
   * @return the entries, marking missing ones
   */
  public String describe() {
    List<String> parts = new ArrayList<>();
    for (String e : entries()) {
      parts.add(Files.exists(Paths.get(e)) ? e : e + " (missing)");
    }
    return parts.isEmpty() ? "[] (empty: set the job's code_search_path or POLYRAY_CODE_SEARCH_PATH)" : parts.toString();
  }
}

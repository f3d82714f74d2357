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
 * added later (a task may carry its job's path); the worker's own class path is the
 * parent, so user classes see the same polyray API classes as the runtime.
 */
public final class CodeSearchPath extends URLClassLoader {
  static {
    ClassLoader.registerAsParallelCapable();
  }

  private final Set<String> entries = Collections.synchronizedSet(new LinkedHashSet<>());

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

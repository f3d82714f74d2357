package io.polyray.runtime.store;

import com.sun.jna.Library;
import com.sun.jna.Native;
import java.util.Locale;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Populates the first bytes of the node's store in this process on a daemon
 * thread, 8 MiB at a time, so this process's first large puts take no page
 * fault (docs/performance.md, "Large puts"; the Python and C++ drivers do the
 * same). The thread runs at nice 10 (libc's setpriority through JNA). How many bytes: {@code $POLYRAY_STORE_PREFAULT} ("256M", "1G", "0",
 * "off"; default 256 MiB). A store that cannot be opened, or one closed
 * meanwhile, ends the thread: the pages then fault on first use.
 */
public final class Prefaulter {
  /** The environment variable of the prefault's size. */
  public static final String ENV = "POLYRAY_STORE_PREFAULT";
  /** Default bytes to populate. */
  public static final long DEFAULT_BYTES = 256L << 20;
  private static final long CHUNK = 8L << 20;
  private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([KMG]?)(?:I?B)?");

  private Prefaulter() {}

  /** libc's setpriority and gettid: Java thread priorities do not reach Linux's scheduler. */
  private interface LibC extends Library {
    int setpriority(int which, int who, int prio);

    int gettid();
  }

  /** This thread only at nice 10, as the Python and C++ prefault threads (best effort). */
  private static void lowerPriority() {
    try {
      LibC c = Native.load("c", LibC.class);
      c.setpriority(0 /* PRIO_PROCESS: with a tid, that thread */, c.gettid(), 10);
    } catch (RuntimeException | LinkageError e) {
      // No libc through JNA here: the thread runs at normal priority.
    }
  }

  /** Bytes of {@code text} ("512M" -> 536870912; "0", "off" -> 0); -1 when malformed. */
  public static long parseBytes(String text) {
    String t = text.trim().toUpperCase(Locale.ROOT);
    if (t.equals("OFF") || t.equals("FALSE") || t.equals("NO")) {
      return 0;
    }
    Matcher m = SIZE.matcher(t);
    if (!m.matches()) {
      return -1;
    }
    long unit = m.group(2).isEmpty() ? 1 : m.group(2).equals("K") ? 1L << 10 : m.group(2).equals("M") ? 1L << 20 : 1L << 30;
    return (long) (Double.parseDouble(m.group(1)) * unit);
  }

  /** The bytes to populate: {@code $POLYRAY_STORE_PREFAULT}, else the default; 0 when malformed. */
  public static long bytesFromEnv() {
    String text = System.getenv(ENV);
    if (text == null || text.isBlank()) {
      return DEFAULT_BYTES;
    }
    return Math.max(0, parseBytes(text));
  }

  /** Starts the thread (none when {@code limit} is 0); the store is opened on it. */
  public static void startInBackground(Supplier<SharedStore> store, long limit) {
    if (limit <= 0) {
      return;
    }
    Thread t = new Thread(() -> {
      lowerPriority();
      try {
        SharedStore s = store.get();
        for (long at = 0; at < limit && !s.isClosed(); ) {
          long n = s.prefault(at, Math.min(CHUNK, limit - at));
          if (n == 0) {
            break;
          }
          at += n;
        }
      } catch (RuntimeException e) {
        // No segment, closed meanwhile, or /dev/shm full: nothing to populate.
      }
    }, "polyray-store-prefault");
    t.setDaemon(true);
    t.setPriority(Thread.MIN_PRIORITY);
    t.start();
  }
}

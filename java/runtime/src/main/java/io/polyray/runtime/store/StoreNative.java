package io.polyray.runtime.store;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * The C store API (bridge/include/polyray_store.h) bound with JNA direct
 * mapping: {@code Native.register} binds these static native methods once,
 * so a call costs one JNI transition and no reflection or proxy dispatch.
 *
 * <p>Structs are read at fixed offsets rather than through JNA
 * {@code Structure}, which reflects on every read; the offsets are the LP64
 * C layout of the header, checked by LayoutTest against JNA's own layout.
 * size_t is passed as {@code long}, which is why loading insists on a 64-bit
 * platform.
 *
 * <p>Loading never throws from the class initializer (that would turn every
 * later use into a bare NoClassDefFoundError); the failure is kept and
 * rethrown by {@link #ensureLoaded()} with the places that were searched.
 */
final class StoreNative {
  /** System property: absolute path of libpolyray_store.so. Checked first. */
  static final String LIBRARY_PROPERTY = "polyray.store.library";
  /** Environment variable: absolute path of libpolyray_store.so. Checked second. */
  static final String LIBRARY_ENV = "POLYRAY_STORE_LIB";
  /** Library name looked up on jna.library.path and the system path last. */
  static final String LIBRARY_NAME = "polyray_store";

  // prs_view (40 bytes)
  static final int VIEW_SIZE = 40;
  static final int VIEW_DATA = 0;
  static final int VIEW_DATA_SIZE = 8;
  static final int VIEW_METADATA = 16;
  static final int VIEW_METADATA_SIZE = 24;
  static final int VIEW_FOUND = 32;
  // prs_object_info (72 bytes)
  static final int INFO_SIZE = 72;
  static final int INFO_ID = 0;
  static final int INFO_DATA_SIZE = 32;
  static final int INFO_METADATA_SIZE = 40;
  static final int INFO_SEALED = 48;
  static final int INFO_CREATOR_PID = 52;
  static final int INFO_PINS = 56;
  static final int INFO_DELETE_PENDING = 64;
  // prs_stats: seven uint64 counters
  static final int STATS_SIZE = 56;
  // prs_reclaim_result: three uint64 counters
  static final int RECLAIM_SIZE = 24;

  private static final StoreLibraryException LOAD_ERROR;
  private static final String LOADED_FROM;

  static {
    StoreLibraryException error = null;
    String from = null;
    try {
      if (Native.POINTER_SIZE != 8 || Native.SIZE_T_SIZE != 8) {
        throw new StoreLibraryException(
            "the Java store binding needs a 64-bit (LP64) platform; this JVM has "
                + (8 * Native.POINTER_SIZE) + "-bit pointers",
            null);
      }
      NativeLibrary lib = locate();
      Native.register(StoreNative.class, lib);
      from = lib.getFile() != null ? lib.getFile().getPath() : lib.getName();
    } catch (StoreLibraryException e) {
      error = e;
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      error =
          new StoreLibraryException(
              "the native store library loaded but could not be bound (" + e.getMessage()
                  + "); it is probably stale: rebuild it with `make setup`",
              e);
    }
    LOAD_ERROR = error;
    LOADED_FROM = from;
  }

  private StoreNative() {}

  /** Throws the load failure, if any: call before the first native call. */
  static void ensureLoaded() {
    if (LOAD_ERROR != null) {
      // A fresh exception per call gives the caller's stack; the first failure is the cause.
      throw new StoreLibraryException(LOAD_ERROR.getMessage(), LOAD_ERROR);
    }
  }

  /** Where the library was loaded from (for diagnostics). */
  static String loadedFrom() {
    ensureLoaded();
    return LOADED_FROM;
  }

  private static NativeLibrary locate() {
    String prop = System.getProperty(LIBRARY_PROPERTY);
    if (prop != null && !prop.isBlank()) {
      return loadPath(prop, "system property " + LIBRARY_PROPERTY);
    }
    String env = System.getenv(LIBRARY_ENV);
    if (env != null && !env.isBlank()) {
      return loadPath(env, "environment variable " + LIBRARY_ENV);
    }
    try {
      return NativeLibrary.getInstance(LIBRARY_NAME);
    } catch (UnsatisfiedLinkError e) {
      throw new StoreLibraryException(
          "cannot find the native store library lib" + LIBRARY_NAME + ".so: system property "
              + LIBRARY_PROPERTY + " is not set, environment variable " + LIBRARY_ENV
              + " is not set, and no '" + LIBRARY_NAME + "' library is on jna.library.path ("
              + System.getProperty("jna.library.path", "not set")
              + ") or the system library path. Run `make setup` to build "
              + "build/cpp/lib/libpolyray_store.so and pass -D" + LIBRARY_PROPERTY
              + "=<absolute path to it>",
          e);
    }
  }

  private static NativeLibrary loadPath(String value, String source) {
    Path path = Paths.get(value).toAbsolutePath().normalize();
    if (!Files.isRegularFile(path)) {
      throw new StoreLibraryException(
          "the native store library " + path + " (from " + source + ") does not exist; "
              + "run `make setup` to build it",
          null);
    }
    try {
      return NativeLibrary.getInstance(path.toString());
    } catch (UnsatisfiedLinkError e) {
      throw new StoreLibraryException(
          "cannot load the native store library " + path + " (from " + source + "): "
              + e.getMessage() + "; rebuild it with `make setup`",
          e);
    }
  }

  /** A segment name as the NUL-terminated UTF-8 bytes C expects. */
  static byte[] cString(String s) {
    byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[utf8.length + 1];
    System.arraycopy(utf8, 0, out, 0, utf8.length);
    return out;
  }

  /**
   * prs_last_error() of this thread: the C library's "status: what failed"
   * message. Falls back to the status name should a failure leave no text.
   */
  static String lastError(int status) {
    Pointer p = prs_last_error();
    String msg = p == null ? "" : p.getString(0, "UTF-8");
    if (msg.isEmpty() || msg.equals("no error")) {
      Pointer n = prs_status_name(status);
      msg = (n == null ? "status " + status : n.getString(0, "UTF-8")) + " (no details)";
    }
    return msg;
  }

  /**
   * The exception for a failed call, built right after it on the same thread
   * (the message is thread-local in C). {@code operation} is used only when
   * the library gave no details.
   */
  static StoreException error(int status, String operation) {
    String msg = lastError(status);
    if (msg.endsWith(" (no details)")) {
      msg = msg.substring(0, msg.length() - " (no details)".length()) + ": " + operation;
    }
    return StoreException.of(StoreStatus.fromCode(status), msg);
  }

  /**
   * Per-thread out-parameter memory: calls are frequent and tiny, and
   * allocating native memory per call (malloc plus a cleaner) would cost more
   * than the call.
   */
  static final class Scratch {
    private static final ThreadLocal<Scratch> CURRENT = ThreadLocal.withInitial(Scratch::new);

    /** 64 bytes for small out-parameters and structs. */
    final Memory out = new Memory(64);
    /** out + 8: the second out-pointer of prs_create. */
    final Pointer out8 = out.share(8);
    private Memory views = new Memory(VIEW_SIZE * 16L);

    static Scratch get() {
      return CURRENT.get();
    }

    /** Zeroed room for {@code count} prs_view structs. */
    Memory views(int count) {
      long need = (long) count * VIEW_SIZE;
      if (views.size() < need) {
        views = new Memory(Math.max(need, views.size() * 2));
      }
      views.setMemory(0, need, (byte) 0);
      return views;
    }
  }

  static native Pointer prs_status_name(int status);

  static native Pointer prs_last_error();

  static native int prs_store_create(byte[] name, long capacity, Pointer out);

  static native int prs_store_open(byte[] name, Pointer out);

  static native int prs_store_close(Pointer store, int dropPins);

  static native int prs_store_unlink(byte[] name);

  static native int prs_create(
      Pointer store, byte[] id, long dataSize, long metadataSize, Pointer data, Pointer metadata);

  static native int prs_seal(Pointer store, byte[] id);

  static native int prs_abort(Pointer store, byte[] id);

  static native int prs_get(Pointer store, byte[] ids, long count, long timeoutMs, Pointer views);

  static native int prs_release(Pointer store, byte[] id);

  static native int prs_contains(Pointer store, byte[] id, Pointer out);

  static native int prs_delete(Pointer store, byte[] id);

  static native int prs_list(Pointer store, Pointer infos, long capacity, Pointer count);

  static native int prs_get_stats(Pointer store, Pointer out);

  static native int prs_evict(Pointer store, long bytes, Pointer freed);

  static native int prs_reclaim(Pointer store, int pid, Pointer out);

  static native int prs_prefault(Pointer store, long offset, long length, Pointer done);
}

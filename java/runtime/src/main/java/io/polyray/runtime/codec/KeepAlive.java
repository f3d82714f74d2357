package io.polyray.runtime.codec;

import java.lang.ref.Cleaner;

/**
 * Ties a resource (a pinned store object) to the values decoded from its memory. Values
 * that view the memory ({@link NdArray}, {@link ArrowIpc}) hold this object; once none
 * is reachable the resource is closed. Decoding that made no view lets
 * {@link #releaseIfUnused()} close the resource at once.
 */
public final class KeepAlive {
  private static final Cleaner CLEANER = Cleaner.create();

  private final AutoCloseable resource;
  private volatile boolean referenced;
  private boolean settled;

  /**
   * A keep-alive for {@code resource}.
   *
   * @param resource closed when no decoded view needs it any more
   */
  public KeepAlive(AutoCloseable resource) {
    this.resource = resource;
  }

  /** Called by the decoder when a value starts to view the memory. */
  void markReferenced() {
    referenced = true;
  }

  /**
   * Whether a decoded value views the memory.
   *
   * @return true once a view was handed out
   */
  public boolean isReferenced() {
    return referenced;
  }

  /**
   * Call once decoding is done: closes the resource now when no value views it, else
   * when the last value that does becomes unreachable.
   */
  public synchronized void releaseIfUnused() {
    if (settled) {
      return;
    }
    settled = true;
    if (!referenced) {
      closeQuietly(resource);
    } else {
      AutoCloseable r = resource; // the action must not capture this object
      CLEANER.register(this, () -> closeQuietly(r));
    }
  }

  private static void closeQuietly(AutoCloseable r) {
    try {
      r.close();
    } catch (Exception e) {
      // Already released (e.g. the store was closed): nothing left to free.
    }
  }
}

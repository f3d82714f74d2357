package io.polyray.runtime.store;

/**
 * The native store library ({@code libpolyray_store.so}) could not be found
 * or loaded. The message names every place that was searched and the fix.
 */
public class StoreLibraryException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message where the library was looked for and what to do
   * @param cause the loader's own error, if any
   */
  public StoreLibraryException(String message, Throwable cause) {
    super(StoreStatus.SYSTEM, message);
    if (cause != null) {
      initCause(cause);
    }
  }
}

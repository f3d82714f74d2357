package io.polyray.runtime.store;

/** The segment exists but is not a polyray store of this version (bad magic or layout). */
public class BadSegmentException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public BadSegmentException(String message) {
    super(StoreStatus.BAD_SEGMENT, message);
  }
}

package io.polyray.runtime.store;

/** Open or unlink of a shared-memory segment that does not exist. */
public class SegmentNotFoundException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public SegmentNotFoundException(String message) {
    super(StoreStatus.NO_SEGMENT, message);
  }
}

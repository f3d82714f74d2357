package io.polyray.runtime.store;

/** Create of a shared-memory segment whose name is already taken. */
public class SegmentExistsException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public SegmentExistsException(String message) {
    super(StoreStatus.EXISTS, message);
  }
}

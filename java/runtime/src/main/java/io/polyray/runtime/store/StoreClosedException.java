package io.polyray.runtime.store;

/** Use of a store handle (or of a view or builder from it) after it was closed. */
public class StoreClosedException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public StoreClosedException(String message) {
    super(StoreStatus.CLOSED, message);
  }
}

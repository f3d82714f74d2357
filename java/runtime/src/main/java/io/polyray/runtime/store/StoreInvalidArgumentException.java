package io.polyray.runtime.store;

/** A bad argument (a negative size, a malformed segment name); nothing was changed. */
public class StoreInvalidArgumentException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public StoreInvalidArgumentException(String message) {
    super(StoreStatus.INVALID, message);
  }
}

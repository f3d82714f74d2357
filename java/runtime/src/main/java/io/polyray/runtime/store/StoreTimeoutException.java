package io.polyray.runtime.store;

/** An object was not sealed within the time a get was willing to wait. */
public class StoreTimeoutException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public StoreTimeoutException(String message) {
    super(StoreStatus.TIMEOUT, message);
  }
}

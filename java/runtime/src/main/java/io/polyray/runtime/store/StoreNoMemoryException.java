package io.polyray.runtime.store;

/** The requested store capacity cannot be sized or mapped on this machine. */
public class StoreNoMemoryException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public StoreNoMemoryException(String message) {
    super(StoreStatus.NO_MEMORY, message);
  }
}

package io.polyray.runtime.store;

/** An operation that needs a sealed object (such as delete) was given one still being created. */
public class ObjectNotSealedException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public ObjectNotSealedException(String message) {
    super(StoreStatus.NOT_SEALED, message);
  }
}

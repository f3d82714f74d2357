package io.polyray.runtime.store;

/** Create of an object id that is already in the store; ids are unique per store. */
public class ObjectExistsException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public ObjectExistsException(String message) {
    super(StoreStatus.EXISTS, message);
  }
}

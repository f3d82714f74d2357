package io.polyray.runtime.store;

/** Release of an object this process does not pin, or use of a view already released. */
public class ObjectNotPinnedException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public ObjectNotPinnedException(String message) {
    super(StoreStatus.NOT_PINNED, message);
  }
}

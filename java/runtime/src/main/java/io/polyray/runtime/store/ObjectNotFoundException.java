package io.polyray.runtime.store;

/** No such object in the store (never created, deleted, evicted, or aborted). */
public class ObjectNotFoundException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public ObjectNotFoundException(String message) {
    super(StoreStatus.NOT_FOUND, message);
  }
}

package io.polyray.runtime.store;

/** Seal, abort or write of an object that is already sealed: sealed bytes are immutable. */
public class ObjectSealedException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public ObjectSealedException(String message) {
    super(StoreStatus.SEALED, message);
  }
}

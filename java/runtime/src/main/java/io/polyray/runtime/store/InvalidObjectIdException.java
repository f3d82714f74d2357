package io.polyray.runtime.store;

/** An object id of the wrong length or malformed hex; ids are exactly {@link ObjectId#SIZE} bytes. */
public class InvalidObjectIdException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says what was wrong. */
  public InvalidObjectIdException(String message) {
    super(StoreStatus.ID_LENGTH, message);
  }
}

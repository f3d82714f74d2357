package io.polyray.runtime.store;

/**
 * The store's object index or pin table has no free slot. A kind of
 * {@link StoreFullException}, because the cure is the same: free objects.
 */
public class StoreTableFullException extends StoreFullException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message says which table is full. */
  public StoreTableFullException(String message) {
    super(StoreStatus.TABLE_FULL, message);
  }
}

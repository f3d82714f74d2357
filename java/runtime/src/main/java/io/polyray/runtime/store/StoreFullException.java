package io.polyray.runtime.store;

/**
 * No room for a new object, even after evicting every unpinned sealed object:
 * what is left is pinned or being created. The message gives the sizes.
 */
public class StoreFullException extends StoreException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** Creates the exception; the message gives requested, capacity, used and pinned bytes. */
  public StoreFullException(String message) {
    super(StoreStatus.FULL, message);
  }

  /** For subclasses that report another kind of "full". */
  protected StoreFullException(StoreStatus status, String message) {
    super(status, message);
  }
}

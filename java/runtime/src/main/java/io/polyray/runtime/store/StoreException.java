package io.polyray.runtime.store;

/**
 * A failure of the shared object store.
 *
 * <p>Unchecked, because most store failures (a full store, a missing object)
 * are decided by the caller's program logic rather than recoverable locally.
 * Subclasses name the common statuses so callers can catch them precisely;
 * {@link #status()} is always set. For failures reported by the C library the
 * message is its {@code prs_last_error()} text verbatim ("store full: ...");
 * failures the binding detects itself use the same "status: what: why" form.
 */
public class StoreException extends RuntimeException {
  /** Serialized form version. */
  private static final long serialVersionUID = 1L;

  /** The status reported for this failure. */
  private final StoreStatus status;

  /**
   * Creates an exception for {@code status}.
   *
   * @param status what failed
   * @param message the full message
   */
  public StoreException(StoreStatus status, String message) {
    super(message);
    this.status = status;
  }

  /** The store status behind this failure. */
  public StoreStatus status() {
    return status;
  }

  /** "status: operation: detail", the C library's message form, for failures found in Java. */
  static String describe(StoreStatus status, String operation, String detail) {
    StringBuilder sb = new StringBuilder(status.description()).append(": ");
    if (operation != null && !operation.isEmpty()) {
      sb.append(operation).append(": ");
    }
    return sb.append(detail).toString();
  }

  /** The exception for a failure the binding finds itself, typed like a C-reported one. */
  static StoreException fail(StoreStatus status, String operation, String detail) {
    return of(status, describe(status, operation, detail));
  }

  /**
   * The most specific exception type for a status, so call sites can throw
   * whatever the C library reported without a switch of their own.
   */
  static StoreException of(StoreStatus status, String message) {
    switch (status) {
      case INVALID:
        return new StoreInvalidArgumentException(message);
      case ID_LENGTH:
        return new InvalidObjectIdException(message);
      case NOT_FOUND:
        return new ObjectNotFoundException(message);
      case EXISTS:
        return new ObjectExistsException(message);
      case SEALED:
        return new ObjectSealedException(message);
      case NOT_SEALED:
        return new ObjectNotSealedException(message);
      case FULL:
        return new StoreFullException(message);
      case TABLE_FULL:
        return new StoreTableFullException(message);
      case TIMEOUT:
        return new StoreTimeoutException(message);
      case CLOSED:
        return new StoreClosedException(message);
      case NO_SEGMENT:
        return new SegmentNotFoundException(message);
      case NO_MEMORY:
        return new StoreNoMemoryException(message);
      case NOT_PINNED:
        return new ObjectNotPinnedException(message);
      case BAD_SEGMENT:
        return new BadSegmentException(message);
      default:
        return new StoreException(status, message);
    }
  }
}

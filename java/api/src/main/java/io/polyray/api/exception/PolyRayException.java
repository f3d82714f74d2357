package io.polyray.api.exception;

/**
 * The base of every exception polyray raises. Unchecked, like Ray's.
 *
 * <p>An exception built from an error value that crossed the wire keeps that value's
 * serialized {@code polyray.rpc.ErrorRecord}, so that re-raising it from another task
 * wraps the original record, unchanged, as the cause of the new one.
 */
public class PolyRayException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Serialized polyray.rpc.ErrorRecord this exception came from, or null. */
  private final byte[] errorRecord;

  /**
   * An exception with a message.
   *
   * @param message what went wrong
   */
  public PolyRayException(String message) {
    this(message, null, null);
  }

  /**
   * An exception with a message and a cause.
   *
   * @param message what went wrong
   * @param cause the underlying failure, or null
   */
  public PolyRayException(String message, Throwable cause) {
    this(message, cause, null);
  }

  /**
   * An exception built from an error record received from another process.
   *
   * @param message what went wrong
   * @param cause the underlying failure (the previous hop), or null
   * @param errorRecord the serialized {@code polyray.rpc.ErrorRecord}, or null
   */
  public PolyRayException(String message, Throwable cause, byte[] errorRecord) {
    super(message, cause);
    this.errorRecord = errorRecord == null ? null : errorRecord.clone();
  }

  /**
   * The serialized {@code polyray.rpc.ErrorRecord} this exception was built from.
   *
   * @return a copy of the record's bytes, or null when the exception was raised locally
   */
  public byte[] getErrorRecord() {
    return errorRecord == null ? null : errorRecord.clone();
  }
}

package io.polyray.api.exception;

/** The process that owned an object (its creator by {@code put} or by calling the task)
 * died, so the object is gone; an {@link ObjectLostException}, as in Ray. */
public class OwnerDiedException extends ObjectLostException {
  private static final long serialVersionUID = 1L;

  /**
   * An exception with a message.
   *
   * @param message what happened
   */
  public OwnerDiedException(String message) {
    super(message);
  }

  /**
   * An exception with a message and a cause.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   */
  public OwnerDiedException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * An exception built from an error record received from another process.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   * @param errorRecord the serialized {@code polyray.rpc.ErrorRecord}, or null
   */
  public OwnerDiedException(String message, Throwable cause, byte[] errorRecord) {
    super(message, cause, errorRecord, "REASON_OWNER_DIED");
  }

  @Override
  public String getReason() {
    return "REASON_OWNER_DIED";
  }
}

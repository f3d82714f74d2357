package io.polyray.api.exception;

/** An object can no longer be read: its owner died or freed it, or every copy was lost. */
public class ObjectLostException extends PolyRayException {
  private static final long serialVersionUID = 1L;
  private final String reason;

  /**
   * An exception with a message.
   *
   * @param message what happened
   */
  public ObjectLostException(String message) {
    super(message);
    this.reason = null;
  }

  /**
   * An exception with a message and a cause.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   */
  public ObjectLostException(String message, Throwable cause) {
    super(message, cause);
    this.reason = null;
  }

  /**
   * An exception built from an error record received from another process.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   * @param errorRecord the serialized {@code polyray.rpc.ErrorRecord}, or null
   */
  public ObjectLostException(String message, Throwable cause, byte[] errorRecord) {
    this(message, cause, errorRecord, null);
  }

  /**
   * An exception built from an error record, with the reason it carries.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   * @param errorRecord the serialized {@code polyray.rpc.ErrorRecord}, or null
   * @param reason the protocol's {@code ErrorReason} name, or null
   */
  public ObjectLostException(String message, Throwable cause, byte[] errorRecord, String reason) {
    super(message, cause, errorRecord);
    this.reason = reason;
  }

  /**
   * Why the object is lost: the protocol's {@code ErrorReason} name ({@code REASON_PUT}: made
   * by put, which cannot be recomputed; {@code REASON_RETRIES_EXHAUSTED}: its task's
   * max_retries are used up or the re-run failed; {@code REASON_LINEAGE_EVICTED}: its lineage
   * was dropped to keep the bound; {@code REASON_OWNER_DIED}: its owner is gone), or null.
   *
   * @return the reason, or null
   */
  public String getReason() {
    return reason;
  }
}

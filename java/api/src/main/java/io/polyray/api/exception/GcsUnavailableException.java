package io.polyray.api.exception;

/** The GCS did not answer within its deadline. */
public class GcsUnavailableException extends PolyRayException {
  private static final long serialVersionUID = 1L;

  /**
   * An exception with a message.
   *
   * @param message what happened
   */
  public GcsUnavailableException(String message) {
    super(message);
  }

  /**
   * An exception with a message and a cause.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   */
  public GcsUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * An exception built from an error record received from another process.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   * @param errorRecord the serialized {@code polyray.rpc.ErrorRecord}, or null
   */
  public GcsUnavailableException(String message, Throwable cause, byte[] errorRecord) {
    super(message, cause, errorRecord);
  }
}

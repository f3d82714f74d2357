package io.polyray.api.exception;

/** The node that ran a task or held an object died. */
public class NodeDiedException extends PolyRayException {
  private static final long serialVersionUID = 1L;

  /**
   * An exception with a message.
   *
   * @param message what happened
   */
  public NodeDiedException(String message) {
    super(message);
  }

  /**
   * An exception with a message and a cause.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   */
  public NodeDiedException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * An exception built from an error record received from another process.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   * @param errorRecord the serialized {@code polyray.rpc.ErrorRecord}, or null
   */
  public NodeDiedException(String message, Throwable cause, byte[] errorRecord) {
    super(message, cause, errorRecord);
  }
}

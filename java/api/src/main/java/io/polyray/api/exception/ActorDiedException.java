package io.polyray.api.exception;

/** The actor is dead: its creation failed, it was killed, or its process died beyond its restarts. */
public class ActorDiedException extends PolyRayException {
  private static final long serialVersionUID = 1L;

  /**
   * An exception with a message.
   *
   * @param message what happened
   */
  public ActorDiedException(String message) {
    super(message);
  }

  /**
   * An exception with a message and a cause.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   */
  public ActorDiedException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * An exception built from an error record received from another process.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   * @param errorRecord the serialized {@code polyray.rpc.ErrorRecord}, or null
   */
  public ActorDiedException(String message, Throwable cause, byte[] errorRecord) {
    super(message, cause, errorRecord);
  }
}

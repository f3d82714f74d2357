package io.polyray.api.exception;

/**
 * Thrown by {@link io.polyray.api.PolyRay#exitActor()} to end the current actor: the Java
 * worker turns it into an intended exit (the call and every later one fail with
 * {@link ActorDiedException}; the actor is not restarted). Do not catch it in actor code.
 */
public class ActorExitException extends PolyRayException {
  private static final long serialVersionUID = 1L;

  /**
   * An exception with a message.
   *
   * @param message what happened
   */
  public ActorExitException(String message) {
    super(message);
  }
}

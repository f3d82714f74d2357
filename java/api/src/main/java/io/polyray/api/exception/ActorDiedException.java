package io.polyray.api.exception;

/**
 * The actor is dead: its creation failed, it was killed, or its process died beyond its restarts.
 * {@link #getReason()} says why, as the protocol's ErrorReason name ({@code REASON_PROCESS_EXITED}
 * with {@link #getExitCode()}, negative for a signal; {@code REASON_NODE_DIED},
 * {@code REASON_OWNER_DIED}, {@code REASON_KILLED}, {@code REASON_CREATION_FAILED}).
 */
public class ActorDiedException extends PolyRayException {
  private static final long serialVersionUID = 1L;
  private final String reason;
  private final Integer exitCode;

  /**
   * An exception with a message.
   *
   * @param message what happened
   */
  public ActorDiedException(String message) {
    super(message);
    this.reason = null;
    this.exitCode = null;
  }

  /**
   * An exception with a message and a cause.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   */
  public ActorDiedException(String message, Throwable cause) {
    super(message, cause);
    this.reason = null;
    this.exitCode = null;
  }

  /**
   * An exception built from an error record received from another process.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   * @param errorRecord the serialized {@code polyray.rpc.ErrorRecord}, or null
   */
  public ActorDiedException(String message, Throwable cause, byte[] errorRecord) {
    this(message, cause, errorRecord, null, null);
  }

  /**
   * An exception built from an error record, with why the actor died.
   *
   * @param message what happened
   * @param cause the underlying failure, or null
   * @param errorRecord the serialized {@code polyray.rpc.ErrorRecord}, or null
   * @param reason the ErrorReason name, or null when unknown
   * @param exitCode the process's exit code with {@code REASON_PROCESS_EXITED}, else null
   */
  public ActorDiedException(String message, Throwable cause, byte[] errorRecord, String reason, Integer exitCode) {
    super(message, cause, errorRecord);
    this.reason = reason;
    this.exitCode = exitCode;
  }

  /**
   * Why the actor died.
   *
   * @return the ErrorReason name ({@code REASON_KILLED}, ...), or null when unknown
   */
  public String getReason() {
    return reason;
  }

  /**
   * The exit code of the actor's process, with {@code REASON_PROCESS_EXITED}.
   *
   * @return the code (negative: killed by that signal), or null
   */
  public Integer getExitCode() {
    return exitCode;
  }
}

package io.polyray.api.exception;

import io.polyray.api.Language;

/**
 * A remote task failed: its code threw (or the runtime could not run it, e.g. an
 * unknown function or a bad argument). Carries where the error was raised: the
 * language, the exception's type name in that language and its traceback. The
 * {@link #getCause() cause} is the previous hop of a chain of calls, or null.
 */
public class TaskException extends PolyRayException {
  private static final long serialVersionUID = 1L;

  /** Where the error was raised. */
  private final Language language;
  /** The exception's type name in that language. */
  private final String typeName;
  /** The traceback in that language's style. */
  private final String remoteTraceback;

  /**
   * A task error.
   *
   * @param message the full message (type, message and remote traceback, for display)
   * @param language the language that raised it
   * @param typeName the exception's type in that language ({@code ZeroDivisionError},
   *     {@code java.lang.IllegalStateException}, {@code std::invalid_argument})
   * @param remoteTraceback the traceback in that language's style (may be empty)
   * @param cause the previous hop's exception, or null
   * @param errorRecord the serialized {@code polyray.rpc.ErrorRecord}, or null
   */
  public TaskException(
      String message,
      Language language,
      String typeName,
      String remoteTraceback,
      Throwable cause,
      byte[] errorRecord) {
    super(message, cause, errorRecord);
    this.language = language;
    this.typeName = typeName == null ? "" : typeName;
    this.remoteTraceback = remoteTraceback == null ? "" : remoteTraceback;
  }

  /**
   * The language in which the error was raised.
   *
   * @return the raising language
   */
  public Language getLanguage() {
    return language;
  }

  /**
   * The exception's type name in the raising language.
   *
   * @return e.g. {@code ValueError} or {@code java.lang.IllegalStateException}
   */
  public String getTypeName() {
    return typeName;
  }

  /**
   * The traceback as the raising language formats it.
   *
   * @return the traceback text, possibly empty
   */
  public String getRemoteTraceback() {
    return remoteTraceback;
  }
}

package io.polyray.api.exception;

import io.polyray.api.Language;

/**
 * A {@link TaskException} whose chain of calls crossed languages: raised (or passed
 * through) in Python or C++ code. Each hop is the cause of the next, so the chain shows
 * every frame and language.
 */
public class CrossLanguageException extends TaskException {
  private static final long serialVersionUID = 1L;

  /**
   * A cross-language task error.
   *
   * @param message the full message
   * @param language the language that raised it
   * @param typeName the exception's type in that language
   * @param remoteTraceback the traceback in that language's style
   * @param cause the previous hop's exception, or null
   * @param errorRecord the serialized {@code polyray.rpc.ErrorRecord}, or null
   */
  public CrossLanguageException(
      String message,
      Language language,
      String typeName,
      String remoteTraceback,
      Throwable cause,
      byte[] errorRecord) {
    super(message, language, typeName, remoteTraceback, cause, errorRecord);
  }
}

package io.polyray.runtime.codec;

/**
 * A Java value (or a part of it) has no XLANG form, so it cannot be sent to another
 * process. The message names where it sits ({@link #path()}, e.g.
 * {@code return value[2]["k"]}), its type and what to do instead.
 */
public class XlangTypeException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  /** Where in the value the offending part sits. */
  private final String path;
  /** The offending part's Java type. */
  private final String typeName;

  /**
   * An encoding failure.
   *
   * @param message the full message
   * @param path where in the value the offending part sits
   * @param typeName the offending part's Java type
   */
  public XlangTypeException(String message, String path, String typeName) {
    super(message);
    this.path = path;
    this.typeName = typeName;
  }

  /**
   * Where in the value the offending part sits.
   *
   * @return e.g. {@code argument 0[2]["k"]}
   */
  public String path() {
    return path;
  }

  /**
   * The offending part's Java type.
   *
   * @return a type name such as {@code java.lang.Thread}
   */
  public String typeName() {
    return typeName;
  }
}

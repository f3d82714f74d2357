package io.polyray.api;

import java.util.Objects;

/**
 * A C++ function registered with {@code POLYRAY_REMOTE}, called as a task from Java:
 * {@code PolyRay.task(CppFunction.of("Plus1", Long.class), 1).remote()}.
 *
 * @param <R> the Java type of the result
 */
public final class CppFunction<R> {
  private final String functionName;
  private final Class<R> returnType;

  private CppFunction(String functionName, Class<R> returnType) {
    this.functionName = PyFunction.requireName(functionName, "function name");
    this.returnType = Objects.requireNonNull(returnType, "returnType");
  }

  /**
   * A C++ function.
   *
   * @param functionName the registered name
   * @param returnType the Java type the result is converted to
   * @param <R> the result type
   * @return the function
   */
  public static <R> CppFunction<R> of(String functionName, Class<R> returnType) {
    return new CppFunction<>(functionName, returnType);
  }

  /**
   * The registered name.
   *
   * @return the name
   */
  public String getFunctionName() {
    return functionName;
  }

  /**
   * The result type.
   *
   * @return the class the result is converted to
   */
  public Class<R> getReturnType() {
    return returnType;
  }
}

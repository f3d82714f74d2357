package io.polyray.api;

import java.util.Objects;

/**
 * A method of a C++ actor, by its registered name: {@code cppHandle.task(
 * CppActorMethod.of("Counter::Add", Long.class), 1).remote()}.
 *
 * @param <R> the Java type of the result
 */
public final class CppActorMethod<R> {
  private final String methodName;
  private final Class<R> returnType;

  private CppActorMethod(String methodName, Class<R> returnType) {
    this.methodName = PyFunction.requireName(methodName, "method name");
    this.returnType = Objects.requireNonNull(returnType, "returnType");
  }

  /**
   * A method.
   *
   * @param methodName the registered name ({@code Counter::Add}); a name without
   *     {@code ::} ({@code Add}) is qualified with the actor's class name
   * @param returnType the Java type the result is converted to
   * @param <R> the result type
   * @return the method
   */
  public static <R> CppActorMethod<R> of(String methodName, Class<R> returnType) {
    return new CppActorMethod<>(methodName, returnType);
  }

  /**
   * The registered name.
   *
   * @return the name
   */
  public String getMethodName() {
    return methodName;
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

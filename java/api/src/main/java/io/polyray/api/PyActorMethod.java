package io.polyray.api;

import java.util.Objects;

/**
 * A method of a Python actor: {@code pyHandle.task(PyActorMethod.of("add", Long.class),
 * 5).remote()}.
 *
 * @param <R> the Java type of the result
 */
public final class PyActorMethod<R> {
  private final String methodName;
  private final Class<R> returnType;

  private PyActorMethod(String methodName, Class<R> returnType) {
    this.methodName = PyFunction.requireName(methodName, "method name");
    this.returnType = Objects.requireNonNull(returnType, "returnType");
  }

  /**
   * A method.
   *
   * @param methodName the method's name
   * @param returnType the Java type the result is converted to
   * @param <R> the result type
   * @return the method
   */
  public static <R> PyActorMethod<R> of(String methodName, Class<R> returnType) {
    return new PyActorMethod<>(methodName, returnType);
  }

  /**
   * A method whose result arrives in its natural Java form.
   *
   * @param methodName the method's name
   * @return the method
   */
  public static PyActorMethod<Object> of(String methodName) {
    return new PyActorMethod<>(methodName, Object.class);
  }

  /**
   * The method's name.
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

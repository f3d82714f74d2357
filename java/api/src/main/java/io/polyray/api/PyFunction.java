package io.polyray.api;

import java.util.Objects;

/**
 * A Python function to call as a task from Java: {@code PyFunction.of("mymod", "f",
 * Long.class)} names the function {@code f} of module {@code mymod}, which Python
 * workers import from the job's code search path. A function decorated with
 * {@code @polyray.remote} works too. Call it with
 * {@code PolyRay.task(pyFunction, args...).remote()}.
 *
 * @param <R> the Java type of the result
 */
public final class PyFunction<R> {
  private final String moduleName;
  private final String functionName;
  private final Class<R> returnType;

  private PyFunction(String moduleName, String functionName, Class<R> returnType) {
    this.moduleName = requireName(moduleName, "module name");
    this.functionName = requireName(functionName, "function name");
    this.returnType = Objects.requireNonNull(returnType, "returnType");
  }

  static String requireName(String s, String what) {
    if (s == null || s.isEmpty()) {
      throw new IllegalArgumentException("the " + what + " must not be empty");
    }
    return s;
  }

  /**
   * A Python function.
   *
   * @param moduleName the module ({@code pkg.mod})
   * @param functionName the function's name in the module (qualified: {@code Cls.static_method})
   * @param returnType the Java type the result is converted to ({@code Object.class}: as decoded)
   * @param <R> the result type
   * @return the function
   */
  public static <R> PyFunction<R> of(String moduleName, String functionName, Class<R> returnType) {
    return new PyFunction<>(moduleName, functionName, returnType);
  }

  /**
   * A Python function whose result arrives in its natural Java form.
   *
   * @param moduleName the module
   * @param functionName the function's name in the module
   * @return the function
   */
  public static PyFunction<Object> of(String moduleName, String functionName) {
    return new PyFunction<>(moduleName, functionName, Object.class);
  }

  /**
   * The module.
   *
   * @return the module name
   */
  public String getModuleName() {
    return moduleName;
  }

  /**
   * The function's (qualified) name.
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

  @Override
  public String toString() {
    return "PyFunction(" + moduleName + "." + functionName + ")";
  }
}

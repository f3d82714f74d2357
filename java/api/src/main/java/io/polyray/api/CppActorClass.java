package io.polyray.api;

/**
 * A C++ actor class: {@code CppActorClass.of("Counter::Create", "Counter")} names the
 * registered factory function and the class. Create it with
 * {@code PolyRay.actor(cppActorClass, args...).remote()}.
 */
public final class CppActorClass {
  private final String createFunctionName;
  private final String className;

  private CppActorClass(String createFunctionName, String className) {
    this.createFunctionName = PyFunction.requireName(createFunctionName, "create function name");
    this.className = PyFunction.requireName(className, "class name");
  }

  /**
   * A C++ actor class.
   *
   * @param createFunctionName the registered factory ({@code Counter::Create})
   * @param className the class name ({@code Counter})
   * @return the class
   */
  public static CppActorClass of(String createFunctionName, String className) {
    return new CppActorClass(createFunctionName, className);
  }

  /**
   * The registered factory function.
   *
   * @return its name
   */
  public String getCreateFunctionName() {
    return createFunctionName;
  }

  /**
   * The class name.
   *
   * @return the name
   */
  public String getClassName() {
    return className;
  }
}

package io.polyray.api;

/**
 * A Python class to instantiate as an actor from Java: {@code PyActorClass.of("mymod",
 * "Counter")}; a class decorated with {@code @polyray.remote} works too. Create it with
 * {@code PolyRay.actor(pyActorClass, args...).remote()}, which gives a
 * {@link PyActorHandle}.
 */
public final class PyActorClass {
  private final String moduleName;
  private final String className;

  private PyActorClass(String moduleName, String className) {
    this.moduleName = PyFunction.requireName(moduleName, "module name");
    this.className = PyFunction.requireName(className, "class name");
  }

  /**
   * A Python actor class.
   *
   * @param moduleName the module that defines it
   * @param className the class's (qualified) name in the module
   * @return the class
   */
  public static PyActorClass of(String moduleName, String className) {
    return new PyActorClass(moduleName, className);
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
   * The class's qualified name.
   *
   * @return the class name
   */
  public String getClassName() {
    return className;
  }

  @Override
  public String toString() {
    return "PyActorClass(" + moduleName + "." + className + ")";
  }
}

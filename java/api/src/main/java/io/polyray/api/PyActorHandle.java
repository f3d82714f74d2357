package io.polyray.api;

/** A handle on an actor written in Python. */
public interface PyActorHandle extends BaseActorHandle {
  /**
   * The module that defines the actor's class.
   *
   * @return the module name, e.g. {@code shapes.counter}
   */
  String getModuleName();

  /**
   * The actor's class name, qualified within its module.
   *
   * @return e.g. {@code Counter}
   */
  String getClassName();
}

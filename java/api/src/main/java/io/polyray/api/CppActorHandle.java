package io.polyray.api;

/** A handle on an actor written in C++. */
public interface CppActorHandle extends BaseActorHandle {
  /**
   * The actor's C++ class name as registered with {@code POLYRAY_REMOTE}.
   *
   * @return e.g. {@code Counter}
   */
  String getClassName();

  /**
   * The registered name of the function that created the actor.
   *
   * @return e.g. {@code Counter::Create}
   */
  String getCreateFunctionName();
}

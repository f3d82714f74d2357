package io.polyray.api;

/**
 * A handle on a Java actor whose class is {@code A}.
 *
 * @param <A> the actor's Java class
 */
public interface ActorHandle<A> extends BaseActorHandle {
  /**
   * The binary name of the actor's class ({@code pkg.Outer$Inner}).
   *
   * @return the class name from the actor's creation descriptor
   */
  String getClassName();
}

package io.polyray.api;

/**
 * A handle on a Java actor whose class is {@code A}. Call its methods with method
 * references: {@code handle.task(Counter::increment, 5).remote()} gives an
 * {@code ObjectRef} of the result. Calls from one caller run in submission order. A
 * handle can be passed to tasks (of any language) and returned from them. The
 * {@code task(...)} overloads (one per arity, result and {@code void} forms) are generated
 * into {@link ActorCalls}, which this interface extends.
 *
 * @param <A> the actor's Java class
 */
public interface ActorHandle<A> extends ActorCalls<A> {
  /**
   * The binary name of the actor's class ({@code pkg.Outer$Inner}).
   *
   * @return the class name from the actor's creation descriptor
   */
  String getClassName();
}

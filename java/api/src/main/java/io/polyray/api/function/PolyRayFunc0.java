package io.polyray.api.function;

/**
 * A remote function of 0 parameters with a result: a method reference such as
 * {@code MyTasks::compute} (a static method), {@code Counter::new} (a constructor) or
 * {@code Counter::add} (an instance method, whose first parameter is the actor).
 *
 * @param <R> the result type
 */
@FunctionalInterface
public interface PolyRayFunc0<R> extends PolyRayFunc {
  /**
   * Calls the function locally (polyray never does: it only reads which method this is).
   *
   * @return the result
   * @throws Exception whatever the method throws
   */
  R apply() throws Exception;
}

package io.polyray.api.function;

/**
 * A remote function of 1 parameter with a result: a method reference such as
 * {@code MyTasks::compute} (a static method), {@code Counter::new} (a constructor) or
 * {@code Counter::add} (an instance method, whose first parameter is the actor).
 *
 * @param <T0> the type of parameter 0
 * @param <R> the result type
 */
@FunctionalInterface
public interface PolyRayFunc1<T0, R> extends PolyRayFunc {
  /**
   * Calls the function locally (polyray never does: it only reads which method this is).
   *
   * @param t0 parameter 0
   * @return the result
   * @throws Exception whatever the method throws
   */
  R apply(T0 t0) throws Exception;
}

package io.polyray.api.function;

/**
 * A remote function of 6 parameters with a result: a method reference such as
 * {@code MyTasks::compute} (a static method), {@code Counter::new} (a constructor) or
 * {@code Counter::add} (an instance method, whose first parameter is the actor).
 *
 * @param <T0> the type of parameter 0
 * @param <T1> the type of parameter 1
 * @param <T2> the type of parameter 2
 * @param <T3> the type of parameter 3
 * @param <T4> the type of parameter 4
 * @param <T5> the type of parameter 5
 * @param <R> the result type
 */
@FunctionalInterface
public interface PolyRayFunc6<T0, T1, T2, T3, T4, T5, R> extends PolyRayFunc {
  /**
   * Calls the function locally (polyray never does: it only reads which method this is).
   *
   * @param t0 parameter 0
   * @param t1 parameter 1
   * @param t2 parameter 2
   * @param t3 parameter 3
   * @param t4 parameter 4
   * @param t5 parameter 5
   * @return the result
   * @throws Exception whatever the method throws
   */
  R apply(T0 t0, T1 t1, T2 t2, T3 t3, T4 t4, T5 t5) throws Exception;
}

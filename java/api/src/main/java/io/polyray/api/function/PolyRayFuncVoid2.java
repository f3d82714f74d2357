package io.polyray.api.function;

/**
 * A remote function of 2 parameters without a result ({@code void}): a method
 * reference such as {@code MyTasks::log} or {@code Counter::reset} (an instance method,
 * whose first parameter is the actor).
 *
 * @param <T0> the type of parameter 0
 * @param <T1> the type of parameter 1
 */
@FunctionalInterface
public interface PolyRayFuncVoid2<T0, T1> extends PolyRayFunc {
  /**
   * Calls the function locally (polyray never does: it only reads which method this is).
   *
   * @param t0 parameter 0
   * @param t1 parameter 1
   * @throws Exception whatever the method throws
   */
  void apply(T0 t0, T1 t1) throws Exception;
}

package io.polyray.api.function;

/**
 * A remote function of 1 parameter without a result ({@code void}): a method
 * reference such as {@code MyTasks::log} or {@code Counter::reset} (an instance method,
 * whose first parameter is the actor).
 *
 * @param <T0> the type of parameter 0
 */
@FunctionalInterface
public interface PolyRayFuncVoid1<T0> extends PolyRayFunc {
  /**
   * Calls the function locally (polyray never does: it only reads which method this is).
   *
   * @param t0 parameter 0
   * @throws Exception whatever the method throws
   */
  void apply(T0 t0) throws Exception;
}

package io.polyray.api.function;

/**
 * A remote function of 0 parameters without a result ({@code void}): a method
 * reference such as {@code MyTasks::log} or {@code Counter::reset} (an instance method,
 * whose first parameter is the actor).
 */
@FunctionalInterface
public interface PolyRayFuncVoid0 extends PolyRayFunc {
  /**
   * Calls the function locally (polyray never does: it only reads which method this is).
   *
   * @throws Exception whatever the method throws
   */
  void apply() throws Exception;
}

package io.polyray.api;

import io.polyray.api.call.TaskCaller;
import io.polyray.api.spi.FunctionSpec;

/**
 * The task half of the {@link PolyRay} facade: {@code PolyRay.task(...)} for Python
 * functions and C++ functions; the overloads for Java static methods (by method reference,
 * one per arity with a result and a void form) are generated into {@link PolyRayCalls},
 * which this class extends. Call these through {@code PolyRay}; the class exists so that
 * the facade is split along its concepts (connection and objects in {@link PolyRay},
 * actors in {@link PolyRayActors}).
 */
public abstract class PolyRayTasks extends PolyRayCalls {
  PolyRayTasks() {}

  /**
   * A task that calls a Python function in a Python worker.
   *
   * @param function the function ({@code PyFunction.of(module, name, returnType)})
   * @param args the arguments: values or ObjectRefs
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <R> TaskCaller<R> task(PyFunction<R> function, Object... args) {
    return new TaskCaller<>(FunctionSpec.python(FunctionSpec.Kind.TASK, function.getModuleName(),
        function.getFunctionName(), function.getReturnType()), args);
  }

  /**
   * A task that calls a C++ function registered with {@code POLYRAY_REMOTE}.
   *
   * @param function the function ({@code CppFunction.of(name, returnType)})
   * @param args the arguments: values or ObjectRefs
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <R> TaskCaller<R> task(CppFunction<R> function, Object... args) {
    return new TaskCaller<>(FunctionSpec.cpp(FunctionSpec.Kind.TASK, "", function.getFunctionName(),
        function.getReturnType()), args);
  }
}

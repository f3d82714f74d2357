package io.polyray.api;

import io.polyray.api.call.TaskCaller;
import io.polyray.api.function.PolyRayFunc0;
import io.polyray.api.function.PolyRayFunc1;
import io.polyray.api.function.PolyRayFunc2;
import io.polyray.api.function.PolyRayFunc3;
import io.polyray.api.function.PolyRayFunc4;
import io.polyray.api.function.PolyRayFunc5;
import io.polyray.api.function.PolyRayFunc6;
import io.polyray.api.function.PolyRayFuncVoid0;
import io.polyray.api.function.PolyRayFuncVoid1;
import io.polyray.api.function.PolyRayFuncVoid2;
import io.polyray.api.function.PolyRayFuncVoid3;
import io.polyray.api.function.PolyRayFuncVoid4;
import io.polyray.api.function.PolyRayFuncVoid5;
import io.polyray.api.function.PolyRayFuncVoid6;
import io.polyray.api.spi.FunctionSpec;
import io.polyray.api.spi.MethodReferences;

/**
 * The task half of the {@link PolyRay} facade: {@code PolyRay.task(...)} for Java static
 * methods (by method reference, one overload per arity with a result and a void form),
 * Python functions and C++ functions. Call these through {@code PolyRay}; the class exists
 * so that the facade is split along its concepts (connection and objects in
 * {@link PolyRay}, actors in {@link PolyRayActors}).
 */
// Each task(...) arity has a result and a void form: a reference to a non-overloaded
// method picks one unambiguously; an overloaded one needs a type witness (see the README).
@SuppressWarnings("overloads")
public abstract class PolyRayTasks {
  PolyRayTasks() {}

  /**
   * A task that calls a static Java method with 0 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f).remote()}.
   *
   * @param f a method reference to a public static method
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <R> TaskCaller<R> task(PolyRayFunc0<R> f) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {});
  }

  /**
   * A task that calls a static {@code void} Java method with 0 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @return the task, to submit with {@code remote()}
   */
  public static TaskCaller<Void> task(PolyRayFuncVoid0 f) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {});
  }

  /**
   * A task that calls a static Java method with 1 argument in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, R> TaskCaller<R> task(PolyRayFunc1<T0, R> f, Object a0) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0});
  }

  /**
   * A task that calls a static {@code void} Java method with 1 argument; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @return the task, to submit with {@code remote()}
   */
  public static <T0> TaskCaller<Void> task(PolyRayFuncVoid1<T0> f, Object a0) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0});
  }

  /**
   * A task that calls a static Java method with 2 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0, 1).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, R> TaskCaller<R> task(PolyRayFunc2<T0, T1, R> f, Object a0, Object a1) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1});
  }

  /**
   * A task that calls a static {@code void} Java method with 2 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1> TaskCaller<Void> task(PolyRayFuncVoid2<T0, T1> f, Object a0, Object a1) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1});
  }

  /**
   * A task that calls a static Java method with 3 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0, 1, 2).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, R> TaskCaller<R> task(PolyRayFunc3<T0, T1, T2, R> f,
      Object a0, Object a1, Object a2) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2});
  }

  /**
   * A task that calls a static {@code void} Java method with 3 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2> TaskCaller<Void> task(PolyRayFuncVoid3<T0, T1, T2> f,
      Object a0, Object a1, Object a2) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2});
  }

  /**
   * A task that calls a static Java method with 4 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0, 1, 2, 3).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, R> TaskCaller<R> task(PolyRayFunc4<T0, T1, T2, T3, R> f,
      Object a0, Object a1, Object a2, Object a3) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3});
  }

  /**
   * A task that calls a static {@code void} Java method with 4 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3> TaskCaller<Void> task(PolyRayFuncVoid4<T0, T1, T2, T3> f,
      Object a0, Object a1, Object a2, Object a3) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3});
  }

  /**
   * A task that calls a static Java method with 5 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0, 1, 2, 3, 4).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param a4 argument 4 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <T4> the type of parameter 4
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4, R> TaskCaller<R> task(PolyRayFunc5<T0, T1, T2, T3, T4, R> f,
      Object a0, Object a1, Object a2, Object a3, Object a4) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3, a4});
  }

  /**
   * A task that calls a static {@code void} Java method with 5 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param a4 argument 4 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <T4> the type of parameter 4
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4> TaskCaller<Void> task(PolyRayFuncVoid5<T0, T1, T2, T3, T4> f,
      Object a0, Object a1, Object a2, Object a3, Object a4) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3, a4});
  }

  /**
   * A task that calls a static Java method with 6 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0, 1, 2, 3, 4, 5).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param a4 argument 4 (a value or an ObjectRef)
   * @param a5 argument 5 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <T4> the type of parameter 4
   * @param <T5> the type of parameter 5
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4, T5, R> TaskCaller<R> task(PolyRayFunc6<T0, T1, T2, T3, T4, T5, R> f,
      Object a0, Object a1, Object a2, Object a3, Object a4, Object a5) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3, a4, a5});
  }

  /**
   * A task that calls a static {@code void} Java method with 6 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param a4 argument 4 (a value or an ObjectRef)
   * @param a5 argument 5 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <T4> the type of parameter 4
   * @param <T5> the type of parameter 5
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4, T5> TaskCaller<Void> task(PolyRayFuncVoid6<T0, T1, T2, T3, T4, T5> f,
      Object a0, Object a1, Object a2, Object a3, Object a4, Object a5) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3, a4, a5});
  }


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

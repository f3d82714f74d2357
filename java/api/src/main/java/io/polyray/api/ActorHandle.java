package io.polyray.api;

import io.polyray.api.call.ActorTaskCaller;
import io.polyray.api.function.PolyRayFunc1;
import io.polyray.api.function.PolyRayFunc2;
import io.polyray.api.function.PolyRayFunc3;
import io.polyray.api.function.PolyRayFunc4;
import io.polyray.api.function.PolyRayFunc5;
import io.polyray.api.function.PolyRayFunc6;
import io.polyray.api.function.PolyRayFunc7;
import io.polyray.api.function.PolyRayFuncVoid1;
import io.polyray.api.function.PolyRayFuncVoid2;
import io.polyray.api.function.PolyRayFuncVoid3;
import io.polyray.api.function.PolyRayFuncVoid4;
import io.polyray.api.function.PolyRayFuncVoid5;
import io.polyray.api.function.PolyRayFuncVoid6;
import io.polyray.api.function.PolyRayFuncVoid7;
import io.polyray.api.spi.FunctionSpec;
import io.polyray.api.spi.MethodReferences;

/**
 * A handle on a Java actor whose class is {@code A}. Call its methods with method
 * references: {@code handle.task(Counter::increment, 5).remote()} gives an
 * {@code ObjectRef} of the result. Calls from one caller run in submission order. A
 * handle can be passed to tasks (of any language) and returned from them.
 *
 * @param <A> the actor's Java class
 */
// Result and void forms of task(...) per arity: see PolyRay.
@SuppressWarnings("overloads")
public interface ActorHandle<A> extends BaseActorHandle {
  /**
   * The binary name of the actor's class ({@code pkg.Outer$Inner}).
   *
   * @return the class name from the actor's creation descriptor
   */
  String getClassName();

  /**
   * A call of an instance method with 0 arguments, e.g. {@code handle.task(Counter::add).remote()}.
   *
   * @param f the method reference
   * @param <R> the result type
   * @return the call, to submit with {@code remote()}
   */
  default <R> ActorTaskCaller<R> task(PolyRayFunc1<A, R> f) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {});
  }

  /**
   * A call of a {@code void} instance method with 0 arguments; the reference's
   * value is null once the call is done.
   *
   * @param f the method reference
   * @return the call, to submit with {@code remote()}
   */
  default ActorTaskCaller<Void> task(PolyRayFuncVoid1<A> f) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {});
  }

  /**
   * A call of an instance method with 1 argument, e.g. {@code handle.task(Counter::add, 1).remote()}.
   *
   * @param f the method reference
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <R> the result type
   * @return the call, to submit with {@code remote()}
   */
  default <T0, R> ActorTaskCaller<R> task(PolyRayFunc2<A, T0, R> f, Object a0) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0});
  }

  /**
   * A call of a {@code void} instance method with 1 argument; the reference's
   * value is null once the call is done.
   *
   * @param f the method reference
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @return the call, to submit with {@code remote()}
   */
  default <T0> ActorTaskCaller<Void> task(PolyRayFuncVoid2<A, T0> f, Object a0) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0});
  }

  /**
   * A call of an instance method with 2 arguments, e.g. {@code handle.task(Counter::add, 1).remote()}.
   *
   * @param f the method reference
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <R> the result type
   * @return the call, to submit with {@code remote()}
   */
  default <T0, T1, R> ActorTaskCaller<R> task(PolyRayFunc3<A, T0, T1, R> f, Object a0, Object a1) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0, a1});
  }

  /**
   * A call of a {@code void} instance method with 2 arguments; the reference's
   * value is null once the call is done.
   *
   * @param f the method reference
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @return the call, to submit with {@code remote()}
   */
  default <T0, T1> ActorTaskCaller<Void> task(PolyRayFuncVoid3<A, T0, T1> f, Object a0, Object a1) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0, a1});
  }

  /**
   * A call of an instance method with 3 arguments, e.g. {@code handle.task(Counter::add, 1).remote()}.
   *
   * @param f the method reference
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <R> the result type
   * @return the call, to submit with {@code remote()}
   */
  default <T0, T1, T2, R> ActorTaskCaller<R> task(PolyRayFunc4<A, T0, T1, T2, R> f,
      Object a0, Object a1, Object a2) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0, a1, a2});
  }

  /**
   * A call of a {@code void} instance method with 3 arguments; the reference's
   * value is null once the call is done.
   *
   * @param f the method reference
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @return the call, to submit with {@code remote()}
   */
  default <T0, T1, T2> ActorTaskCaller<Void> task(PolyRayFuncVoid4<A, T0, T1, T2> f,
      Object a0, Object a1, Object a2) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0, a1, a2});
  }

  /**
   * A call of an instance method with 4 arguments, e.g. {@code handle.task(Counter::add, 1).remote()}.
   *
   * @param f the method reference
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <R> the result type
   * @return the call, to submit with {@code remote()}
   */
  default <T0, T1, T2, T3, R> ActorTaskCaller<R> task(PolyRayFunc5<A, T0, T1, T2, T3, R> f,
      Object a0, Object a1, Object a2, Object a3) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0, a1, a2, a3});
  }

  /**
   * A call of a {@code void} instance method with 4 arguments; the reference's
   * value is null once the call is done.
   *
   * @param f the method reference
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @return the call, to submit with {@code remote()}
   */
  default <T0, T1, T2, T3> ActorTaskCaller<Void> task(PolyRayFuncVoid5<A, T0, T1, T2, T3> f,
      Object a0, Object a1, Object a2, Object a3) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0, a1, a2, a3});
  }

  /**
   * A call of an instance method with 5 arguments, e.g. {@code handle.task(Counter::add, 1).remote()}.
   *
   * @param f the method reference
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
   * @return the call, to submit with {@code remote()}
   */
  default <T0, T1, T2, T3, T4, R> ActorTaskCaller<R> task(PolyRayFunc6<A, T0, T1, T2, T3, T4, R> f,
      Object a0, Object a1, Object a2, Object a3, Object a4) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0, a1, a2, a3, a4});
  }

  /**
   * A call of a {@code void} instance method with 5 arguments; the reference's
   * value is null once the call is done.
   *
   * @param f the method reference
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
   * @return the call, to submit with {@code remote()}
   */
  default <T0, T1, T2, T3, T4> ActorTaskCaller<Void> task(PolyRayFuncVoid6<A, T0, T1, T2, T3, T4> f,
      Object a0, Object a1, Object a2, Object a3, Object a4) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0, a1, a2, a3, a4});
  }

  /**
   * A call of an instance method with 6 arguments, e.g. {@code handle.task(Counter::add, 1).remote()}.
   *
   * @param f the method reference
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
   * @return the call, to submit with {@code remote()}
   */
  default <T0, T1, T2, T3, T4, T5, R> ActorTaskCaller<R> task(PolyRayFunc7<A, T0, T1, T2, T3, T4, T5, R> f,
      Object a0, Object a1, Object a2, Object a3, Object a4, Object a5) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0, a1, a2, a3, a4, a5});
  }

  /**
   * A call of a {@code void} instance method with 6 arguments; the reference's
   * value is null once the call is done.
   *
   * @param f the method reference
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
   * @return the call, to submit with {@code remote()}
   */
  default <T0, T1, T2, T3, T4, T5> ActorTaskCaller<Void> task(PolyRayFuncVoid7<A, T0, T1, T2, T3, T4, T5> f,
      Object a0, Object a1, Object a2, Object a3, Object a4, Object a5) {
    return new ActorTaskCaller<>(this, MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_METHOD),
        new Object[] {a0, a1, a2, a3, a4, a5});
  }
}

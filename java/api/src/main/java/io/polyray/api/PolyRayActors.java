package io.polyray.api;

import io.polyray.api.call.ActorCreator;
import io.polyray.api.function.PolyRayFunc0;
import io.polyray.api.function.PolyRayFunc1;
import io.polyray.api.function.PolyRayFunc2;
import io.polyray.api.function.PolyRayFunc3;
import io.polyray.api.function.PolyRayFunc4;
import io.polyray.api.function.PolyRayFunc5;
import io.polyray.api.function.PolyRayFunc6;
import io.polyray.api.spi.FunctionSpec;
import io.polyray.api.spi.MethodReferences;
import java.util.Objects;
import java.util.Optional;

/**
 * The actor half of the {@link PolyRay} facade: {@code PolyRay.actor(...)} for Java
 * constructors and factories (by method reference), Python and C++ actor classes, and
 * the helpers on live actors ({@code getActor}, {@code kill}, {@code exitActor}). Call
 * these through {@code PolyRay}.
 */
@SuppressWarnings("overloads")
public abstract class PolyRayActors extends PolyRayTasks {
  PolyRayActors() {}

  /**
   * A Java actor created by a constructor or static factory with 0 arguments:
   * {@code PolyRay.actor(Counter::new).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc0<A> f) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {});
  }

  /**
   * A Java actor created by a constructor or static factory with 1 argument:
   * {@code PolyRay.actor(Counter::new, 0).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc1<T0, A> f, Object a0) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0});
  }

  /**
   * A Java actor created by a constructor or static factory with 2 arguments:
   * {@code PolyRay.actor(Counter::new, 0, 1).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, T1, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc2<T0, T1, A> f,
      Object a0, Object a1) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0, a1});
  }

  /**
   * A Java actor created by a constructor or static factory with 3 arguments:
   * {@code PolyRay.actor(Counter::new, 0, 1, 2).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, T1, T2, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc3<T0, T1, T2, A> f,
      Object a0, Object a1, Object a2) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0, a1, a2});
  }

  /**
   * A Java actor created by a constructor or static factory with 4 arguments:
   * {@code PolyRay.actor(Counter::new, 0, 1, 2, 3).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc4<T0, T1, T2, T3, A> f,
      Object a0, Object a1, Object a2, Object a3) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0, a1, a2, a3});
  }

  /**
   * A Java actor created by a constructor or static factory with 5 arguments:
   * {@code PolyRay.actor(Counter::new, 0, 1, 2, 3, 4).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
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
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc5<T0, T1, T2, T3, T4, A> f,
      Object a0, Object a1, Object a2, Object a3, Object a4) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0, a1, a2, a3, a4});
  }

  /**
   * A Java actor created by a constructor or static factory with 6 arguments:
   * {@code PolyRay.actor(Counter::new, 0, 1, 2, 3, 4, 5).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
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
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4, T5, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc6<T0, T1, T2, T3, T4, T5, A> f,
      Object a0, Object a1, Object a2, Object a3, Object a4, Object a5) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0, a1, a2, a3, a4, a5});
  }

  /**
   * A Python actor.
   *
   * @param actorClass the class ({@code PyActorClass.of(module, className)})
   * @param args the constructor's arguments: values or ObjectRefs
   * @return the creator, to submit with {@code remote()}
   */
  public static ActorCreator<PyActorHandle> actor(PyActorClass actorClass, Object... args) {
    return new ActorCreator<>(FunctionSpec.python(FunctionSpec.Kind.ACTOR_CREATION, actorClass.getModuleName(),
        actorClass.getClassName(), null), args);
  }

  /**
   * A C++ actor.
   *
   * @param actorClass the class ({@code CppActorClass.of(createFunction, className)})
   * @param args the factory's arguments: values or ObjectRefs
   * @return the creator, to submit with {@code remote()}
   */
  public static ActorCreator<CppActorHandle> actor(CppActorClass actorClass, Object... args) {
    return new ActorCreator<>(FunctionSpec.cpp(FunctionSpec.Kind.ACTOR_CREATION, actorClass.getClassName(),
        actorClass.getCreateFunctionName(), null), args);
  }

  /**
   * Ends the current actor from inside one of its methods, as Ray's {@code Ray.exitActor()}:
   * the call and every later call fail with {@code ActorDiedException}, the worker exits and
   * the actor is not restarted whatever its {@code maxRestarts}. Outside an actor method the
   * exception it throws is an ordinary error of the task (or of the driver's code).
   *
   * @throws io.polyray.api.exception.ActorExitException always (the worker catches it)
   */
  public static void exitActor() {
    throw new io.polyray.api.exception.ActorExitException(
        "PolyRay.exitActor() was called (it ends an actor from inside one of its methods)");
  }


  /**
   * The live actor with this name in the job's namespace, created by any driver or
   * worker in any language.
   *
   * @param name the actor's name
   * @param <T> the handle type: {@code ActorHandle<A>}, {@code PyActorHandle} or
   *     {@code CppActorHandle}, as the actor's language
   * @return its handle, or empty when there is no live actor of that name
   */
  public static <T extends BaseActorHandle> Optional<T> getActor(String name) {
    return getActor(name, null);
  }

  /**
   * The live actor with this name in a namespace.
   *
   * @param name the actor's name
   * @param namespace the namespace (null: the job's)
   * @param <T> the handle type, as the actor's language
   * @return its handle, or empty when there is no live actor of that name
   * @throws ClassCastException (at the assignment) when {@code T} is not the actor's handle type
   */
  @SuppressWarnings("unchecked")
  public static <T extends BaseActorHandle> Optional<T> getActor(String name, String namespace) {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("the actor name must not be empty");
    }
    return (Optional<T>) PolyRay.internal().getActor(name, namespace);
  }

  /**
   * Kills an actor now, without restarting it: its pending and later calls fail with
   * {@link io.polyray.api.exception.ActorDiedException}.
   *
   * @param actor the actor
   */
  public static void kill(BaseActorHandle actor) {
    kill(actor, true);
  }

  /**
   * Kills an actor now.
   *
   * @param actor the actor
   * @param noRestart false: restart it if it has restarts left
   */
  public static void kill(BaseActorHandle actor, boolean noRestart) {
    Objects.requireNonNull(actor, "actor");
    PolyRay.internal().kill(actor, noRestart);
  }
}

package io.polyray.api;

import io.polyray.api.call.ActorCreator;
import io.polyray.api.spi.FunctionSpec;
import java.util.Objects;
import java.util.Optional;

/**
 * The actor half of the {@link PolyRay} facade: {@code PolyRay.actor(...)} for Python and
 * C++ actor classes (the overloads for Java constructors and factories, by method
 * reference, are generated into {@link PolyRayCalls}), and the helpers on live actors
 * ({@code getActor}, {@code kill}, {@code exitActor}). Call these through {@code PolyRay}.
 */
@SuppressWarnings("overloads")
public abstract class PolyRayActors extends PolyRayTasks {
  PolyRayActors() {}

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

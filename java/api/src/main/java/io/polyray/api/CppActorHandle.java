package io.polyray.api;

import io.polyray.api.call.ActorTaskCaller;
import io.polyray.api.spi.FunctionSpec;

/**
 * A handle on an actor written in C++. Call its methods with
 * {@code handle.task(CppActorMethod.of("Counter::Add", Long.class), 1).remote()}.
 */
public interface CppActorHandle extends BaseActorHandle {
  /**
   * The actor's C++ class name as registered with {@code POLYRAY_REMOTE}.
   *
   * @return e.g. {@code Counter}
   */
  String getClassName();

  /**
   * The registered name of the function that created the actor.
   *
   * @return e.g. {@code Counter::Create}
   */
  String getCreateFunctionName();

  /**
   * A call of one of the actor's methods.
   *
   * @param method the method
   * @param args the arguments: values or ObjectRefs
   * @param <R> the result type
   * @return the call, to submit with {@code remote()}
   */
  default <R> ActorTaskCaller<R> task(CppActorMethod<R> method, Object... args) {
    return new ActorTaskCaller<>(this, FunctionSpec.cpp(FunctionSpec.Kind.ACTOR_METHOD, getClassName(),
        method.getMethodName(), method.getReturnType()), args);
  }
}

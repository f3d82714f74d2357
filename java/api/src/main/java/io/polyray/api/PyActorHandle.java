package io.polyray.api;

import io.polyray.api.call.ActorTaskCaller;
import io.polyray.api.spi.FunctionSpec;

/**
 * A handle on an actor written in Python. Call its methods with
 * {@code handle.task(PyActorMethod.of("add", Long.class), 5).remote()}; calls from one
 * caller run in submission order. A handle can be passed to tasks (of any language) and
 * returned from them.
 */
public interface PyActorHandle extends BaseActorHandle {
  /**
   * The module that defines the actor's class.
   *
   * @return the module name, e.g. {@code shapes.counter}
   */
  String getModuleName();

  /**
   * The actor's class name, qualified within its module.
   *
   * @return e.g. {@code Counter}
   */
  String getClassName();

  /**
   * A call of one of the actor's methods.
   *
   * @param method the method
   * @param args the arguments: values or ObjectRefs
   * @param <R> the result type
   * @return the call, to submit with {@code remote()}
   */
  default <R> ActorTaskCaller<R> task(PyActorMethod<R> method, Object... args) {
    return new ActorTaskCaller<>(this, FunctionSpec.python(FunctionSpec.Kind.ACTOR_METHOD, getModuleName(),
        getClassName() + "." + method.getMethodName(), method.getReturnType()), args);
  }
}

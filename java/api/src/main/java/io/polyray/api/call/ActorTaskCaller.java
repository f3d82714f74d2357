package io.polyray.api.call;

import io.polyray.api.BaseActorHandle;
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.spi.CallOptions;
import io.polyray.api.spi.FunctionSpec;
import java.util.List;

/**
 * An actor method call about to be submitted: {@link #remote()} submits it. Calls from
 * one caller to one actor run in the order they were submitted.
 *
 * @param <R> the result type
 */
public final class ActorTaskCaller<R> {
  private final BaseActorHandle actor;
  private final FunctionSpec function;
  private final Object[] args;
  private final CallOptions options = new CallOptions();

  /**
   * A caller (use {@code handle.task(...)}).
   *
   * @param actor the actor
   * @param function the method
   * @param args the arguments: values or ObjectRefs
   */
  public ActorTaskCaller(BaseActorHandle actor, FunctionSpec function, Object[] args) {
    this.actor = actor;
    this.function = function;
    this.args = args.clone();
  }

  /**
   * Names the call in logs and errors.
   *
   * @param name the display name
   * @return this
   */
  public ActorTaskCaller<R> setName(String name) {
    options.setName(name);
    return this;
  }

  /**
   * Sets how often this call is sent again when the actor dies while running it (-1:
   * forever); by default the actor's {@code setMaxTaskRetries} from its creation. Calls made
   * while the actor restarts wait for it and spend no retry.
   *
   * @param maxTaskRetries -1 (forever) or more
   * @return this caller
   */
  public ActorTaskCaller<R> setMaxTaskRetries(int maxTaskRetries) {
    options.setMaxTaskRetries(maxTaskRetries);
    return this;
  }

  /**
   * Runs this call in the actor's concurrency group {@code group} (Ray's
   * {@code concurrency_group}); by default the call runs in the actor's default group. A
   * group the actor did not declare is the call's error (its {@code get} throws, naming the
   * group).
   *
   * @param group the group's name
   * @return this
   * @throws IllegalArgumentException naming {@code concurrencyGroup} for an empty name
   */
  public ActorTaskCaller<R> setConcurrencyGroup(String group) {
    options.setConcurrencyGroup(group);
    return this;
  }

  /**
   * The number of return values (default 1). The callee returns a {@code List} or an
   * array (Java) or a tuple (Python) of that many; use {@link #remoteMulti()}. C++
   * callees have one return value: more is an IllegalArgumentException at the call.
   *
   * @param numReturns 1 or more
   * @return this
   */
  public ActorTaskCaller<R> setNumReturns(int numReturns) {
    options.setNumReturns(numReturns);
    return this;
  }

  /**
   * Submits, with {@link #setNumReturns(int)} return values.
   *
   * @return the references of the return values, in order
   */
  public List<ObjectRef<Object>> remoteMulti() {
    return PolyRay.internal().submitActorTaskReturns(actor, function, args, options);
  }

  /**
   * Submits the call.
   *
   * @return the reference of the result; a dead actor makes its get throw
   *     {@link io.polyray.api.exception.ActorDiedException}
   */
  public ObjectRef<R> remote() {
    return PolyRay.internal().submitActorTask(actor, function, args, options);
  }
}

package io.polyray.api.call;

import io.polyray.api.BaseActorHandle;
import io.polyray.api.ObjectRef;
import io.polyray.api.ObjectRefGenerator;
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
  /** The built-in actor method that runs a function with the actor (Ray's {@code __ray_call__}). */
  public static final String CALL_METHOD = "__polyray_call__";

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
   * A call that runs a static Java function inside the actor with the actor instance as its
   * first argument (Ray's {@code __ray_call__}; use {@code handle.call(Fns::bump, ...)}): sent as
   * the built-in method {@code __polyray_call__} whose argument 0 names the function
   * ({@code "pkg.Fns.bump(Lpkg/Counter;J)J"}); the call is serialized with the actor's other calls.
   *
   * @param actor the actor (a Java actor)
   * @param function the static function (from {@code MethodReferences.describeActorFunction})
   * @param args the function's arguments after the actor: values or ObjectRefs
   * @param <R> the result type
   * @return the call, to submit with {@code remote()}
   */
  public static <R> ActorTaskCaller<R> ofFunction(BaseActorHandle actor, FunctionSpec function, Object[] args) {
    Object[] all = new Object[args.length + 1];
    all[0] = function.getClassName() + "." + function.getFunctionName() + function.getSignature();
    System.arraycopy(args, 0, all, 1, args.length);
    FunctionSpec call = FunctionSpec.java(FunctionSpec.Kind.ACTOR_METHOD, function.getClassName(), CALL_METHOD, "",
        function.getReturnType());
    return new ActorTaskCaller<>(actor, call, all);
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
   * Submits the call as a streaming generator (Python's {@code num_returns="streaming"}):
   * each item the method yields (a Python generator method; a Java method returning an
   * {@code Iterator}, {@code Iterable} or {@code Stream}) comes as soon as it is produced.
   * {@code T} is the item type. Retried once the actor restarts while {@code maxTaskRetries}
   * allows (the retry's repeated items are dropped). Python, Java and C++ actors stream.
   *
   * @param <T> the item type
   * @return the generator of the items' refs
   */
  public <T> ObjectRefGenerator<T> remoteGenerator() {
    return PolyRay.internal().submitActorTaskGenerator(actor, function, args, options);
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

package io.polyray.api.spi;

import io.polyray.api.BaseActorHandle;
import io.polyray.api.ObjectRef;
import io.polyray.api.WaitResult;
import java.util.List;
import java.util.Optional;

/**
 * What a polyray runtime does for the API (the CoreWorker of a driver or worker).
 * {@code io.polyray.api.PolyRay} and the callers delegate here; see their documentation
 * for the behaviour.
 */
public interface PolyRayRuntime {
  /**
   * Stores a value; the caller's process owns it.
   *
   * @param value the value
   * @param <T> its type
   * @return its reference
   */
  <T> ObjectRef<T> put(Object value);

  /**
   * The value of one object, converted to the reference's declared type.
   *
   * @param ref the reference
   * @param timeoutMs how long to wait; negative: no limit
   * @return the value
   */
  Object get(ObjectRef<?> ref, long timeoutMs);

  /**
   * The values of several objects, in order.
   *
   * @param refs the references
   * @param timeoutMs how long to wait for all of them; negative: no limit
   * @return the values
   */
  List<Object> getAll(List<? extends ObjectRef<?>> refs, long timeoutMs);

  /**
   * Waits until {@code numReturns} of the objects are ready or the timeout passes.
   *
   * @param refs the references (no duplicates)
   * @param numReturns how many to wait for
   * @param timeoutMs how long; negative: no limit
   * @param <T> the value type
   * @return the ready and the other references, each in input order
   */
  <T> WaitResult<T> wait(List<ObjectRef<T>> refs, int numReturns, long timeoutMs);

  /**
   * Submits a normal task.
   *
   * @param function what to run
   * @param args the arguments (values or ObjectRefs)
   * @param options the call's options
   * @param <R> the result type
   * @return the reference of its result
   */
  <R> ObjectRef<R> submitTask(FunctionSpec function, Object[] args, CallOptions options);

  /**
   * Creates an actor.
   *
   * @param function the constructor, factory or class
   * @param args the arguments
   * @param options the actor's options (name, namespace, resources, restarts, lifetime)
   * @return its handle (of the class for the actor's language)
   */
  BaseActorHandle createActor(FunctionSpec function, Object[] args, CallOptions options);

  /**
   * Calls an actor's method; calls of one caller run in submission order.
   *
   * @param actor the actor
   * @param function the method
   * @param args the arguments
   * @param options the call's options
   * @param <R> the result type
   * @return the reference of its result
   */
  <R> ObjectRef<R> submitActorTask(BaseActorHandle actor, FunctionSpec function, Object[] args,
      CallOptions options);

  /**
   * Submits a normal task with {@code options.getNumReturns()} return values.
   *
   * @param function what to run
   * @param args the arguments
   * @param options the call's options
   * @return the references of its results, in order
   */
  List<ObjectRef<Object>> submitTaskReturns(FunctionSpec function, Object[] args, CallOptions options);

  /**
   * Calls an actor's method with {@code options.getNumReturns()} return values.
   *
   * @param actor the actor
   * @param function the method
   * @param args the arguments
   * @param options the call's options
   * @return the references of its results, in order
   */
  List<ObjectRef<Object>> submitActorTaskReturns(BaseActorHandle actor, FunctionSpec function, Object[] args,
      CallOptions options);

  /**
   * Submits a normal task as a streaming generator (its items come as they are produced).
   *
   * @param function what to run
   * @param args the arguments
   * @param options the call's options
   * @param <T> the item type
   * @return the generator of its items' refs
   */
  <T> io.polyray.api.ObjectRefGenerator<T> submitTaskGenerator(FunctionSpec function, Object[] args,
      CallOptions options);

  /**
   * Calls an actor's method as a streaming generator (its items come as they are produced).
   *
   * @param actor the actor
   * @param function the method
   * @param args the arguments
   * @param options the call's options
   * @param <T> the item type
   * @return the generator of its items' refs
   */
  <T> io.polyray.api.ObjectRefGenerator<T> submitActorTaskGenerator(BaseActorHandle actor,
      FunctionSpec function, Object[] args, CallOptions options);

  /**
   * Cancels the task that produces {@code ref}: a queued one never runs; a running one is
   * interrupted ({@code force}: its worker is stopped). Getting the ref then throws
   * TaskCancelledException. A finished task is left alone. A borrowed ref is cancelled
   * through its owner.
   *
   * @param ref a return of the task or actor call
   * @param force stop the worker (refused for actor calls)
   * @param recursive also cancel the tasks the cancelled task submitted
   */
  void cancel(ObjectRef<?> ref, boolean force, boolean recursive);

  /**
   * Asks the GCS to reserve a placement group.
   *
   * @param bundles checked resource maps
   * @param strategy the strategy
   * @param name the name ("": none)
   * @return the group
   */
  io.polyray.api.placement.PlacementGroup createPlacementGroup(List<java.util.Map<String, Double>> bundles,
      io.polyray.api.placement.PlacementStrategy strategy, String name);

  /**
   * The live group of a name.
   *
   * @param name the name
   * @return the group, or empty
   */
  Optional<io.polyray.api.placement.PlacementGroup> getPlacementGroup(String name);

  /**
   * Removes a group.
   *
   * @param group the group
   */
  void removePlacementGroup(io.polyray.api.placement.PlacementGroup group);

  /**
   * Waits until a group is reserved.
   *
   * @param group the group
   * @param timeoutMs at most this long
   * @return true once reserved
   */
  boolean waitPlacementGroup(io.polyray.api.placement.PlacementGroup group, long timeoutMs);

  /**
   * A reference that becomes true once the group is reserved (an error when it is removed first).
   *
   * @param group the group
   * @return the reference
   */
  ObjectRef<Boolean> placementGroupReady(io.polyray.api.placement.PlacementGroup group);

  /**
   * The live actor of a name in a namespace.
   *
   * @param name the actor's name
   * @param namespace the namespace, or null for the job's
   * @return its handle, or empty
   */
  Optional<BaseActorHandle> getActor(String name, String namespace);

  /**
   * Kills an actor now.
   *
   * @param actor the actor
   * @param noRestart true: do not restart it even if it has restarts left
   */
  void kill(BaseActorHandle actor, boolean noRestart);

  /**
   * The job's namespace.
   *
   * @return the namespace
   */
  String getNamespace();

  /**
   * What the current process is (job, node, worker, task, actor).
   *
   * @return the runtime context
   */
  io.polyray.api.RuntimeContext getRuntimeContext();

  /**
   * The job's ID in hex.
   *
   * @return 8 hex digits
   */
  String getJobId();

  /**
   * The address of the cluster's GCS.
   *
   * @return {@code host:port}
   */
  String getGcsAddress();

  /**
   * The head's dashboard URL (a driver's; a worker's is "").
   *
   * @return {@code http://host:port}, or "" when the head serves none
   */
  default String getDashboardUrl() {
    return "";
  }

  /** Disconnects (a driver: stops the embedded cluster it started). */
  void shutdown();
}

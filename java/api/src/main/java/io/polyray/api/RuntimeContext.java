package io.polyray.api;

import java.util.Map;

/**
 * What the current process is, as Ray's {@code Ray.getRuntimeContext()}: its job, node,
 * worker, running task and actor (from {@link PolyRay#getRuntimeContext()}). Ids are hex
 * strings, equal to the ones Python's {@code polyray.get_runtime_context()} and the state
 * API ({@code polyray list tasks}, {@code list actors}) show for the same things.
 */
public interface RuntimeContext {
  /**
   * The job id.
   *
   * @return hex
   */
  String getJobId();

  /**
   * The node this process runs on.
   *
   * @return hex
   */
  String getNodeId();

  /**
   * This process's worker id.
   *
   * @return hex
   */
  String getWorkerId();

  /**
   * The running task (in an actor: the running method call).
   *
   * @return hex; null in a driver, as Python's
   */
  String getTaskId();

  /**
   * The actor this worker hosts.
   *
   * @return hex; null outside an actor
   */
  String getActorId();

  /**
   * Whether the actor this worker hosts was restarted (its creation ran again after a
   * death: {@code maxRestarts}); false outside an actor, as Ray's.
   *
   * @return true from the first restart on
   */
  boolean wasCurrentActorRestarted();

  /**
   * The resources this worker was given: the running task's request ({@code {CPU=1.0}} by
   * default), or in an actor what it was created with ({@code {}} for the default 0 CPUs).
   *
   * @return resource name to amount
   * @throws IllegalStateException in a driver
   */
  Map<String, Double> getAssignedResources();

  /**
   * The job's namespace.
   *
   * @return the namespace ("" by default)
   */
  String getNamespace();

  /**
   * Whether this process is a driver (not a worker).
   *
   * @return true in a driver
   */
  boolean isDriver();

  /**
   * Whether a cancel (from any language's caller, or forwarded by the task's owner) reached
   * the running task, as Ray's {@code is_canceled()}. A running Java task is also
   * interrupted ({@link Thread#interrupt()}); this tells a task that caught the interrupt
   * (or checks between steps) that it was cancelled.
   *
   * @return true once cancelled
   * @throws IllegalStateException in a driver
   */
  boolean isCanceled();

  /**
   * The actor's own handle inside one of its methods, as Ray's {@code current_actor}: a weak
   * handle (it does not keep the actor alive); a call through it queues behind the running
   * call unless the actor has {@code maxConcurrency} &gt; 1.
   *
   * @return the handle (an {@link ActorHandle} of a Java actor)
   * @throws IllegalStateException outside an actor
   */
  BaseActorHandle getCurrentActor();
}

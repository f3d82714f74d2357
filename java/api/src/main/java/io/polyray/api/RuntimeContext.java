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
}

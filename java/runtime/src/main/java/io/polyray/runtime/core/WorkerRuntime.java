package io.polyray.runtime.core;

/**
 * The API's runtime inside a Java worker process, so that a task or actor method can
 * call {@code PolyRay.task/actor/get/put} like a driver: objects it creates are owned by
 * the worker (which serves them while it lives), and its nested tasks are children of the
 * running task. {@link #shutdown()} does nothing: the worker's life belongs to its raylet.
 */
public final class WorkerRuntime extends CoreRuntime {
  /**
   * A runtime over a worker's core.
   *
   * @param core the worker's CoreWorker
   */
  public WorkerRuntime(CoreWorker core) {
    super(core);
  }

  @Override
  public void shutdown() {
    // A worker's CoreWorker stops with its process.
  }
}

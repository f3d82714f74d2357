package io.polyray.api.call;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.spi.CallOptions;
import io.polyray.api.spi.FunctionSpec;
import java.util.Map;

/**
 * A task about to be submitted: set options, then {@link #remote()}. Made by
 * {@code PolyRay.task(...)}.
 *
 * <pre>{@code
 * ObjectRef<Long> r = PolyRay.task(MyTasks::sum, 1, 2).setResource("CPU", 2.0).remote();
 * }</pre>
 *
 * @param <R> the result type
 */
public final class TaskCaller<R> {
  private final FunctionSpec function;
  private final Object[] args;
  private final CallOptions options = new CallOptions();

  /**
   * A caller (use {@code PolyRay.task}).
   *
   * @param function what to call
   * @param args the arguments: values or ObjectRefs
   */
  public TaskCaller(FunctionSpec function, Object[] args) {
    this.function = function;
    this.args = args.clone();
  }

  /**
   * Names the task in logs and errors.
   *
   * @param name the display name
   * @return this
   */
  public TaskCaller<R> setName(String name) {
    options.setName(name);
    return this;
  }

  /**
   * Requests an amount of a resource ({@code CPU}, {@code GPU}, {@code memory} or a
   * custom one). A task takes 1 CPU unless told otherwise.
   *
   * @param resource the resource name
   * @param amount a non-negative amount
   * @return this
   */
  public TaskCaller<R> setResource(String resource, double amount) {
    options.setResource(resource, amount);
    return this;
  }

  /**
   * Requests several resources.
   *
   * @param resources name to amount
   * @return this
   */
  public TaskCaller<R> setResources(Map<String, Double> resources) {
    resources.forEach(options::setResource);
    return this;
  }

  /**
   * How often the task is retried when its worker dies (default 3; -1: forever).
   *
   * @param maxRetries the count
   * @return this
   */
  public TaskCaller<R> setMaxRetries(int maxRetries) {
    options.setMaxRetries(maxRetries);
    return this;
  }

  /**
   * Whether an exception thrown by the task is retried too (within the retries).
   *
   * @param retryExceptions the flag
   * @return this
   */
  public TaskCaller<R> setRetryExceptions(boolean retryExceptions) {
    options.setRetryExceptions(retryExceptions);
    return this;
  }

  /**
   * Submits the task. Arguments are encoded now: one without a cross-language (XLANG)
   * form fails here, naming the argument.
   *
   * @return the reference of the result
   */
  public ObjectRef<R> remote() {
    return PolyRay.internal().submitTask(function, args, options);
  }
}

package io.polyray.api.call;

import io.polyray.api.ObjectRef;
import io.polyray.api.ObjectRefGenerator;
import io.polyray.api.PolyRay;
import io.polyray.api.placement.PlacementGroup;
import io.polyray.api.spi.CallOptions;
import io.polyray.api.spi.FunctionSpec;
import java.util.List;
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
   * Runs on one node (Ray's {@code NodeAffinitySchedulingStrategy}).
   *
   * @param nodeId the node's id in hex ({@code PolyRay.getRuntimeContext().getNodeId()})
   * @param soft true: elsewhere when that node is gone or full; false: fails then
   * @return this
   * @throws IllegalArgumentException naming {@code nodeId} when it is not a hex node id
   */
  public TaskCaller<R> setNodeAffinity(String nodeId, boolean soft) {
    options.setNodeAffinity(nodeId, soft);
    return this;
  }

  /**
   * Spreads over the cluster's nodes (Ray's {@code SPREAD} strategy).
   *
   * @return this
   */
  public TaskCaller<R> setSpread() {
    options.setSpread();
    return this;
  }

  /**
   * Runs only on nodes whose labels match (Ray's {@code label_selector}: {@code "v"},
   * {@code "!v"}, {@code "in(a,b)"}, {@code "!in(a,b)"}); with the default or SPREAD strategy.
   *
   * @param selector label key to condition
   * @return this
   * @throws IllegalArgumentException naming a malformed key or condition
   */
  public TaskCaller<R> setLabelSelector(java.util.Map<String, String> selector) {
    options.setLabelSelector(selector);
    return this;
  }

  /**
   * Label selectors tried in order when no node that could hold the request matches the one
   * before (Ray's {@code fallback_strategy}).
   *
   * @param selectors the selectors, in order
   * @return this
   * @throws IllegalArgumentException naming a malformed one
   */
  public TaskCaller<R> setFallbackStrategy(java.util.List<java.util.Map<String, String>> selectors) {
    options.setFallbackStrategy(selectors);
    return this;
  }

  /**
   * Runs in a bundle of a placement group.
   *
   * @param group the group ({@code PlacementGroups.create})
   * @param bundleIndex the bundle, or -1 for any
   * @return this
   * @throws IllegalArgumentException naming {@code bundleIndex} when below -1 or past the group's bundles
   */
  public TaskCaller<R> setPlacementGroup(PlacementGroup group, int bundleIndex) {
    options.setPlacementGroup(group, bundleIndex, false);
    return this;
  }

  /**
   * Runs in a bundle of a placement group; with {@code captureChildTasks}, the tasks and
   * actors it starts without a strategy of their own run in the group too.
   *
   * @param group the group
   * @param bundleIndex the bundle, or -1 for any
   * @param captureChildTasks Ray's {@code placement_group_capture_child_tasks}
   * @return this
   */
  public TaskCaller<R> setPlacementGroup(PlacementGroup group, int bundleIndex, boolean captureChildTasks) {
    options.setPlacementGroup(group, bundleIndex, captureChildTasks);
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
  public TaskCaller<R> setNumReturns(int numReturns) {
    options.setNumReturns(numReturns);
    return this;
  }

  /**
   * Submits, with {@link #setNumReturns(int)} return values.
   *
   * @return the references of the return values, in order
   */
  public List<ObjectRef<Object>> remoteMulti() {
    return PolyRay.internal().submitTaskReturns(function, args, options);
  }

  /**
   * Submits the task as a streaming generator (Python's {@code num_returns="streaming"}):
   * the callee yields items (a Python generator function; a Java method returning an
   * {@code Iterator}, {@code Iterable} or {@code Stream}) and each item's ref comes as soon
   * as it is produced, before the task ends. {@code T} is the item type: the element type of
   * the Java method's {@code Iterator<T>}/{@code Iterable<T>}/{@code Stream<T>}, the
   * {@code returnType} of a {@code PyFunction} or {@code CppFunction}. Retried when its worker
   * dies while {@code maxRetries} allows (as in Python: the retry's repeated items are dropped).
   *
   * @param <T> the item type
   * @return the generator of the items' refs
   */
  public <T> ObjectRefGenerator<T> remoteGenerator() {
    return PolyRay.internal().submitTaskGenerator(function, args, options);
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

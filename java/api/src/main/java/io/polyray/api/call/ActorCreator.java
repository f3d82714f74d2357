package io.polyray.api.call;

import io.polyray.api.ActorLifetime;
import io.polyray.api.BaseActorHandle;
import io.polyray.api.PolyRay;
import io.polyray.api.placement.PlacementGroup;
import io.polyray.api.spi.CallOptions;
import io.polyray.api.spi.FunctionSpec;
import java.util.Map;

/**
 * An actor about to be created: set options, then {@link #remote()}. Made by
 * {@code PolyRay.actor(...)}.
 *
 * <pre>{@code
 * ActorHandle<Counter> c = PolyRay.actor(Counter::new, 10).setName("counter").remote();
 * }</pre>
 *
 * @param <H> the handle type: {@code ActorHandle<A>}, {@code PyActorHandle} or
 *     {@code CppActorHandle}
 */
public final class ActorCreator<H extends BaseActorHandle> {
  private final FunctionSpec function;
  private final Object[] args;
  private final CallOptions options = new CallOptions();

  /**
   * A creator (use {@code PolyRay.actor}).
   *
   * @param function the constructor, factory or class
   * @param args the arguments: values or ObjectRefs
   */
  public ActorCreator(FunctionSpec function, Object[] args) {
    this.function = function;
    this.args = args.clone();
  }

  /**
   * Names the actor, so that {@code PolyRay.getActor(name)} (or Python's
   * {@code polyray.get_actor}) finds it in its namespace. A taken name makes
   * {@link #remote()} throw.
   *
   * @param name the name
   * @return this
   */
  public ActorCreator<H> setName(String name) {
    options.setName(name);
    return this;
  }

  /**
   * The namespace of the actor's name (default: the job's).
   *
   * @param namespace the namespace
   * @return this
   */
  public ActorCreator<H> setNamespace(String namespace) {
    options.setNamespace(namespace);
    return this;
  }

  /**
   * Requests an amount of a resource for the actor's life. An actor holds no CPU unless
   * told otherwise (as in Ray).
   *
   * @param resource the resource name
   * @param amount a non-negative amount
   * @return this
   */
  public ActorCreator<H> setResource(String resource, double amount) {
    options.setResource(resource, amount);
    return this;
  }

  /**
   * Requests several resources.
   *
   * @param resources name to amount
   * @return this
   */
  public ActorCreator<H> setResources(Map<String, Double> resources) {
    resources.forEach(options::setResource);
    return this;
  }

  /**
   * How often the actor is restarted after its process dies (default 0; -1: forever).
   *
   * @param maxRestarts the count
   * @return this
   */
  public ActorCreator<H> setMaxRestarts(int maxRestarts) {
    options.setMaxRestarts(maxRestarts);
    return this;
  }

  /**
   * How often a call is retried after a restart (default 0).
   *
   * @param maxTaskRetries the count
   * @return this
   */
  public ActorCreator<H> setMaxTaskRetries(int maxTaskRetries) {
    options.setMaxTaskRetries(maxTaskRetries);
    return this;
  }

  /**
   * How many calls the actor runs at once (Python actors; default 1).
   *
   * @param maxConcurrency 1 or more
   * @return this
   */
  public ActorCreator<H> setMaxConcurrency(int maxConcurrency) {
    options.setMaxConcurrency(maxConcurrency);
    return this;
  }

  /**
   * Ray's {@code concurrency_groups}: group name to how many of its calls may run at once,
   * each group on its own threads, so a full group holds up neither another group nor the
   * default one ({@link #setMaxConcurrency(int)}). Calls choose a group with
   * {@link ActorTaskCaller#setConcurrencyGroup(String)}; the others run in the default group.
   * Java, Python and C++ actors honour them. Replaces groups set before.
   *
   * @param groups group name to its size (1 or more)
   * @return this
   * @throws IllegalArgumentException naming {@code concurrencyGroups} for an empty name or a
   *     size below 1
   */
  public ActorCreator<H> setConcurrencyGroups(Map<String, Integer> groups) {
    options.setConcurrencyGroups(groups);
    return this;
  }

  /**
   * Whether the actor outlives its job ({@link ActorLifetime#DETACHED} needs a name).
   *
   * @param lifetime the lifetime
   * @return this
   */
  public ActorCreator<H> setLifetime(ActorLifetime lifetime) {
    options.setLifetime(lifetime);
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
  public ActorCreator<H> setNodeAffinity(String nodeId, boolean soft) {
    options.setNodeAffinity(nodeId, soft);
    return this;
  }

  /**
   * Spreads over the cluster's nodes (Ray's {@code SPREAD} strategy).
   *
   * @return this
   */
  public ActorCreator<H> setSpread() {
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
  public ActorCreator<H> setLabelSelector(java.util.Map<String, String> selector) {
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
  public ActorCreator<H> setFallbackStrategy(java.util.List<java.util.Map<String, String>> selectors) {
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
  public ActorCreator<H> setPlacementGroup(PlacementGroup group, int bundleIndex) {
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
  public ActorCreator<H> setPlacementGroup(PlacementGroup group, int bundleIndex, boolean captureChildTasks) {
    options.setPlacementGroup(group, bundleIndex, captureChildTasks);
    return this;
  }

  /**
   * Creates the actor. Returns at once; calls made before the actor is up wait for it.
   *
   * @return the actor's handle
   * @throws IllegalArgumentException when the name is taken in its namespace
   */
  @SuppressWarnings("unchecked")
  public H remote() {
    return (H) PolyRay.internal().createActor(function, args, options);
  }
}

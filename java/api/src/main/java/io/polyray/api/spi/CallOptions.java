package io.polyray.api.spi;

import io.polyray.api.ActorLifetime;
import io.polyray.api.placement.PlacementGroup;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The options of one call, as the setters of the task callers and actor creators left
 * them. A null or negative field means "the runtime's default". Runtimes read it;
 * callers fill it.
 */
public final class CallOptions {
  /** Hex digits of a node id (28 bytes). */
  public static final int NODE_ID_HEX = 56;
  /** The most return values a task may have (the runtime spec's limits.max_num_returns). */
  public static final int MAX_NUM_RETURNS = 10000;
  private final Map<String, Double> resources = new LinkedHashMap<>();
  private String name = "";
  private String namespace;
  private Integer maxRetries;
  private boolean retryExceptions;
  private Integer maxRestarts;
  private Integer maxTaskRetries;
  private Integer maxConcurrency;
  private final Map<String, Integer> concurrencyGroups = new LinkedHashMap<>();
  private String concurrencyGroup = "";
  private ActorLifetime lifetime;  // null: not set (the job's default lifetime applies to named actors)
  private Scheduling scheduling = Scheduling.DEFAULT;
  private String nodeId = "";
  private boolean soft;
  private PlacementGroup placementGroup;
  private int bundleIndex = -1;
  private boolean captureChildTasks;
  private int numReturns = 1;
  private final Map<String, String> labelSelector = new LinkedHashMap<>();
  private final List<Map<String, String>> fallbackStrategy = new ArrayList<>();

  /** Where a task or actor runs (Ray's scheduling strategies). */
  public enum Scheduling {
    /** The raylet's choice (its node first, spill-over when full). */
    DEFAULT,
    /** Spread over the nodes. */
    SPREAD,
    /** On one node ({@link #getNodeId()}), or elsewhere when soft and that node is gone or full. */
    NODE_AFFINITY,
    /** In a bundle of a placement group. */
    PLACEMENT_GROUP
  }

  /** Default options. */
  public CallOptions() {}

  /**
   * Requested resources ({@code CPU}, {@code GPU}, {@code memory}, custom names).
   *
   * @return an unmodifiable view
   */
  public Map<String, Double> getResources() {
    return Collections.unmodifiableMap(resources);
  }

  /**
   * Sets one resource amount.
   *
   * @param resource the resource name
   * @param amount a non-negative amount
   * @throws IllegalArgumentException for a negative or non-finite amount or an empty name
   */
  public void setResource(String resource, double amount) {
    if (resource == null || resource.isEmpty()) {
      throw new IllegalArgumentException("a resource name must not be empty");
    }
    if (!(amount >= 0) || Double.isInfinite(amount)) {
      throw new IllegalArgumentException("resource " + resource + " must be a non-negative number, got " + amount);
    }
    resources.put(resource, amount);
  }

  /**
   * The display name (tasks) or the actor's name (actor creation).
   *
   * @return the name, empty when unset
   */
  public String getName() {
    return name;
  }

  /**
   * Sets the name.
   *
   * @param name the name (null means unset)
   */
  public void setName(String name) {
    this.name = name == null ? "" : name;
  }

  /**
   * The namespace of a named actor, or null for the job's.
   *
   * @return the namespace
   */
  public String getNamespace() {
    return namespace;
  }

  /**
   * Sets the namespace of a named actor.
   *
   * @param namespace the namespace (null: the job's)
   */
  public void setNamespace(String namespace) {
    this.namespace = namespace;
  }

  /**
   * How often a task is retried when its worker dies, or null for the default (3).
   *
   * @return the count (-1: forever)
   */
  public Integer getMaxRetries() {
    return maxRetries;
  }

  /**
   * Sets the retries of a task.
   *
   * @param maxRetries -1 (forever) or more
   */
  public void setMaxRetries(int maxRetries) {
    requireAtLeast("maxRetries", maxRetries, -1);
    this.maxRetries = maxRetries;
  }

  /**
   * Whether an exception thrown by the task is retried too (within maxRetries).
   *
   * @return the flag
   */
  public boolean isRetryExceptions() {
    return retryExceptions;
  }

  /**
   * Sets whether exceptions are retried.
   *
   * @param retryExceptions the flag
   */
  public void setRetryExceptions(boolean retryExceptions) {
    this.retryExceptions = retryExceptions;
  }

  /**
   * How often an actor is restarted after its process dies, or null (0).
   *
   * @return the count (-1: forever)
   */
  public Integer getMaxRestarts() {
    return maxRestarts;
  }

  /**
   * Sets the restarts of an actor.
   *
   * @param maxRestarts -1 (forever) or more
   */
  public void setMaxRestarts(int maxRestarts) {
    requireAtLeast("maxRestarts", maxRestarts, -1);
    this.maxRestarts = maxRestarts;
  }

  /**
   * How often an actor's method call is retried after a restart, or null (0).
   *
   * @return the count
   */
  public Integer getMaxTaskRetries() {
    return maxTaskRetries;
  }

  /**
   * Sets the retries of an actor's calls.
   *
   * @param maxTaskRetries -1 (forever) or more
   */
  public void setMaxTaskRetries(int maxTaskRetries) {
    requireAtLeast("maxTaskRetries", maxTaskRetries, -1);
    this.maxTaskRetries = maxTaskRetries;
  }

  /**
   * How many calls an actor runs at once, or null (the default: 1).
   *
   * @return the count
   */
  public Integer getMaxConcurrency() {
    return maxConcurrency;
  }

  /**
   * Sets the concurrency of an actor.
   *
   * @param maxConcurrency 1 or more
   */
  public void setMaxConcurrency(int maxConcurrency) {
    requireAtLeast("maxConcurrency", maxConcurrency, 1);
    this.maxConcurrency = maxConcurrency;
  }

  /**
   * The actor's concurrency groups (Ray's {@code concurrency_groups}): group name to how many
   * of its calls may run at once.
   *
   * @return an unmodifiable view (empty: no groups, only the default group)
   */
  public Map<String, Integer> getConcurrencyGroups() {
    return Collections.unmodifiableMap(concurrencyGroups);
  }

  /**
   * Sets the actor's concurrency groups, replacing any set before.
   *
   * @param groups group name to its size (1 or more)
   * @throws IllegalArgumentException naming {@code concurrencyGroups} for a null map, a null or
   *     empty name, or a null size or one below 1
   */
  public void setConcurrencyGroups(Map<String, Integer> groups) {
    if (groups == null) {
      throw new IllegalArgumentException("concurrencyGroups must not be null");
    }
    Map<String, Integer> checked = new LinkedHashMap<>();
    for (Map.Entry<String, Integer> e : groups.entrySet()) {
      String group = e.getKey();
      if (group == null || group.isEmpty()) {
        throw new IllegalArgumentException("concurrencyGroups: a group name is empty");
      }
      Integer size = e.getValue();
      if (size == null || size < 1) {
        throw new IllegalArgumentException("concurrencyGroups: group '" + group
            + "' must allow at least 1 call at a time, got " + size);
      }
      checked.put(group, size);
    }
    concurrencyGroups.clear();
    concurrencyGroups.putAll(checked);
  }

  /**
   * The concurrency group of one actor call (Ray's {@code concurrency_group}).
   *
   * @return the group, empty for the actor's default group
   */
  public String getConcurrencyGroup() {
    return concurrencyGroup;
  }

  /**
   * Runs an actor call in one of the actor's concurrency groups.
   *
   * @param group the group's name
   * @throws IllegalArgumentException naming {@code concurrencyGroup} for a null or empty name
   */
  public void setConcurrencyGroup(String group) {
    if (group == null || group.isEmpty()) {
      throw new IllegalArgumentException("concurrencyGroup must not be empty");
    }
    this.concurrencyGroup = group;
  }

  /**
   * Whether an actor outlives its job.
   *
   * @return the lifetime (NON_DETACHED when not set)
   */
  public ActorLifetime getLifetime() {
    return lifetime == null ? ActorLifetime.NON_DETACHED : lifetime;
  }

  /**
   * Whether the lifetime was set: a named actor whose lifetime was not set takes its job's
   * default ({@code PolyRayConfig.setDefaultActorLifetime}).
   *
   * @return true when {@link #setLifetime} gave one
   */
  public boolean isLifetimeSet() {
    return lifetime != null;
  }

  /**
   * Sets the lifetime of an actor.
   *
   * @param lifetime DETACHED (needs a name) or NON_DETACHED; null: not set (the job's default)
   */
  public void setLifetime(ActorLifetime lifetime) {
    this.lifetime = lifetime;
  }

  /**
   * The scheduling strategy.
   *
   * @return the kind
   */
  public Scheduling getScheduling() {
    return scheduling;
  }

  /** Runs the task or actor on any node, spread over them (Ray's SPREAD). */
  public void setSpread() {
    clearScheduling();
    scheduling = Scheduling.SPREAD;
  }

  /**
   * Runs the task or actor on one node.
   *
   * @param nodeId the node's id in hex ({@code RuntimeContext.getNodeId()})
   * @param soft true: elsewhere when that node is gone or full
   * @throws IllegalArgumentException naming {@code nodeId} when it is not a hex node id
   */
  public void setNodeAffinity(String nodeId, boolean soft) {
    if (nodeId == null || nodeId.length() != NODE_ID_HEX || !nodeId.matches("[0-9a-fA-F]+")) {
      throw new IllegalArgumentException("nodeId must be a node id of " + NODE_ID_HEX + " hex digits, got "
          + (nodeId == null ? "null" : "\"" + nodeId + "\""));
    }
    clearScheduling();
    scheduling = Scheduling.NODE_AFFINITY;
    this.nodeId = nodeId.toLowerCase(java.util.Locale.ROOT);
    this.soft = soft;
  }

  /**
   * Runs the task or actor in a bundle of a placement group.
   *
   * @param group the group
   * @param bundleIndex the bundle (-1: any)
   * @param captureChildTasks tasks and actors it starts with no strategy of their own run in the group too
   * @throws IllegalArgumentException naming {@code bundleIndex} when it is below -1 or past the group's bundles,
   *     or {@code placementGroup} when it is null
   */
  public void setPlacementGroup(PlacementGroup group, int bundleIndex, boolean captureChildTasks) {
    if (group == null) {
      throw new IllegalArgumentException("placementGroup must not be null");
    }
    if (bundleIndex < -1 || bundleIndex >= group.getBundleCount()) {
      throw new IllegalArgumentException("bundleIndex must be -1 (any bundle) or 0.." + (group.getBundleCount() - 1)
          + " for placement group " + group.getId() + ", got " + bundleIndex);
    }
    clearScheduling();
    scheduling = Scheduling.PLACEMENT_GROUP;
    this.placementGroup = group;
    this.bundleIndex = bundleIndex;
    this.captureChildTasks = captureChildTasks;
  }

  private void clearScheduling() {
    scheduling = Scheduling.DEFAULT;
    nodeId = "";
    soft = false;
    placementGroup = null;
    bundleIndex = -1;
    captureChildTasks = false;
  }

  /**
   * The node of NODE_AFFINITY, in lower-case hex ("" otherwise).
   *
   * @return the node id
   */
  public String getNodeId() {
    return nodeId;
  }

  /**
   * Whether NODE_AFFINITY is soft.
   *
   * @return the flag
   */
  public boolean isSoft() {
    return soft;
  }

  /**
   * The group of PLACEMENT_GROUP, or null.
   *
   * @return the group
   */
  public PlacementGroup getPlacementGroup() {
    return placementGroup;
  }

  /**
   * The bundle of PLACEMENT_GROUP (-1: any).
   *
   * @return the index
   */
  public int getBundleIndex() {
    return bundleIndex;
  }

  /**
   * Whether child tasks run in the group too.
   *
   * @return the flag
   */
  public boolean isCaptureChildTasks() {
    return captureChildTasks;
  }

  /**
   * How many return values a task or method has (default 1).
   *
   * @return the count
   */
  public int getNumReturns() {
    return numReturns;
  }

  /**
   * Sets the number of return values.
   *
   * @param numReturns 1 to {@link #MAX_NUM_RETURNS}
   * @throws IllegalArgumentException naming {@code numReturns} when out of range
   */
  public void setNumReturns(int numReturns) {
    if (numReturns < 1 || numReturns > MAX_NUM_RETURNS) {
      throw new IllegalArgumentException("numReturns must be between 1 and " + MAX_NUM_RETURNS + ", got "
          + numReturns);
    }
    this.numReturns = numReturns;
  }

  private static final Pattern LABEL_KEY =
      Pattern.compile("([a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?");
  private static final Pattern LABEL_VALUE = Pattern.compile("([a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?");

  /**
   * Runs only on nodes whose labels match every condition (Ray's {@code label_selector}):
   * {@code "v"}, {@code "!v"}, {@code "in(a,b)"}, {@code "!in(a,b)"}. With the default or SPREAD
   * strategy only.
   *
   * @param selector label key to condition
   * @throws IllegalArgumentException naming a malformed key or condition
   */
  public void setLabelSelector(Map<String, String> selector) {
    Map<String, String> checked = checkSelector(selector, "labelSelector");
    labelSelector.clear();
    labelSelector.putAll(checked);
  }

  /**
   * Selectors tried in order when no node that could ever hold the request matches the
   * label selector (Ray's {@code fallback_strategy} of label selectors).
   *
   * @param selectors the selectors, in order
   * @throws IllegalArgumentException naming a malformed one
   */
  public void setFallbackStrategy(List<Map<String, String>> selectors) {
    if (selectors == null) {
      throw new IllegalArgumentException("fallbackStrategy must not be null");
    }
    List<Map<String, String>> checked = new ArrayList<>();
    for (int i = 0; i < selectors.size(); i++) {
      checked.add(checkSelector(selectors.get(i), "fallbackStrategy[" + i + "]"));
    }
    fallbackStrategy.clear();
    fallbackStrategy.addAll(checked);
  }

  /**
   * The label selector.
   *
   * @return an unmodifiable view (empty: any node)
   */
  public Map<String, String> getLabelSelector() {
    return Collections.unmodifiableMap(labelSelector);
  }

  /**
   * The fallback selectors.
   *
   * @return an unmodifiable view
   */
  public List<Map<String, String>> getFallbackStrategy() {
    return Collections.unmodifiableList(fallbackStrategy);
  }

  private static Map<String, String> checkSelector(Map<String, String> selector, String what) {
    if (selector == null) {
      throw new IllegalArgumentException(what + " must not be null");
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, String> e : selector.entrySet()) {
      String key = e.getKey();
      String cond = e.getValue();
      if (key == null || key.length() > 253 || !LABEL_KEY.matcher(key).matches()) {
        throw new IllegalArgumentException(what + ": " + key + " is not a valid label key");
      }
      if (cond == null) {
        throw new IllegalArgumentException(what + ": the condition of " + key + " is null");
      }
      String body = cond.startsWith("!") ? cond.substring(1) : cond;
      List<String> values = new ArrayList<>();
      if (body.startsWith("in(") && body.endsWith(")")) {
        for (String v : body.substring(3, body.length() - 1).split(",", -1)) {
          values.add(v.trim());
        }
      } else {
        values.add(body);
      }
      for (String v : values) {
        boolean emptyInList = (values.size() > 1 || body.startsWith("in(")) && v.isEmpty();
        if (emptyInList || v.length() > 63 || !LABEL_VALUE.matcher(v).matches()) {
          throw new IllegalArgumentException(what + ": label selector value \"" + cond + "\" of " + key
              + " is not v, !v, in(a,b) or !in(a,b) with valid label values");
        }
      }
      out.put(key, cond);
    }
    return out;
  }

  private static void requireAtLeast(String what, int value, int low) {
    if (value < low) {
      throw new IllegalArgumentException(what + " must be >= " + low + ", got " + value);
    }
  }
}

package io.polyray.api.spi;

import io.polyray.api.ActorLifetime;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The options of one call, as the setters of the task callers and actor creators left
 * them. A null or negative field means "the runtime's default". Runtimes read it;
 * callers fill it.
 */
public final class CallOptions {
  private final Map<String, Double> resources = new LinkedHashMap<>();
  private String name = "";
  private String namespace;
  private Integer maxRetries;
  private boolean retryExceptions;
  private Integer maxRestarts;
  private Integer maxTaskRetries;
  private Integer maxConcurrency;
  private ActorLifetime lifetime = ActorLifetime.NON_DETACHED;

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
   * Whether an actor outlives its job.
   *
   * @return the lifetime
   */
  public ActorLifetime getLifetime() {
    return lifetime;
  }

  /**
   * Sets the lifetime of an actor.
   *
   * @param lifetime DETACHED (needs a name) or NON_DETACHED
   */
  public void setLifetime(ActorLifetime lifetime) {
    this.lifetime = lifetime == null ? ActorLifetime.NON_DETACHED : lifetime;
  }

  private static void requireAtLeast(String what, int value, int low) {
    if (value < low) {
      throw new IllegalArgumentException(what + " must be >= " + low + ", got " + value);
    }
  }
}

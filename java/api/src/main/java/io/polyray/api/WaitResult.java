package io.polyray.api;

import java.util.Collections;
import java.util.List;

/**
 * What {@link PolyRay#wait} returns: the references whose values are ready and the
 * others, each in the order they were given.
 *
 * @param <T> the value type
 */
public final class WaitResult<T> {
  private final List<ObjectRef<T>> ready;
  private final List<ObjectRef<T>> unready;

  /**
   * A result.
   *
   * @param ready the ready references
   * @param unready the others
   */
  public WaitResult(List<ObjectRef<T>> ready, List<ObjectRef<T>> unready) {
    this.ready = Collections.unmodifiableList(ready);
    this.unready = Collections.unmodifiableList(unready);
  }

  /**
   * The references whose values (or errors) are ready.
   *
   * @return an unmodifiable list, in input order
   */
  public List<ObjectRef<T>> getReady() {
    return ready;
  }

  /**
   * The references not ready when the wait ended.
   *
   * @return an unmodifiable list, in input order
   */
  public List<ObjectRef<T>> getUnready() {
    return unready;
  }

  @Override
  public String toString() {
    return "WaitResult(ready=" + ready.size() + ", unready=" + unready.size() + ")";
  }
}

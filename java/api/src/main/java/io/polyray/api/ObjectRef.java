package io.polyray.api;

/**
 * A reference to an object in the cluster: the future result of a task, or a value
 * put into the object store. It may sit anywhere inside an argument or a result and
 * still refer to the same object in every language.
 *
 * @param <T> the Java type of the value it refers to (a hint for the caller; the
 *     value itself is language-neutral)
 */
public interface ObjectRef<T> {
  /**
   * The object's ID: 28 bytes (the ID of the task that made it plus a little-endian
   * uint32 index).
   *
   * @return a copy of the ID bytes
   */
  byte[] getId();

  /**
   * The object's ID in lower-case hex, as shown in logs and errors.
   *
   * @return 56 hex digits
   */
  String getIdHex();

  /**
   * The value, waiting as long as it takes: the same as {@code PolyRay.get(this)}.
   *
   * @return the value, converted to {@code T}
   * @throws io.polyray.api.exception.PolyRayException the task's error or a system failure
   */
  default T get() {
    return PolyRay.get(this);
  }

  /**
   * The value, waiting at most {@code timeoutMs}: the same as
   * {@code PolyRay.get(this, timeoutMs)}.
   *
   * @param timeoutMs how long to wait, in milliseconds
   * @return the value, converted to {@code T}
   * @throws io.polyray.api.exception.GetTimeoutException when it is not ready in time
   */
  default T get(long timeoutMs) {
    return PolyRay.get(this, timeoutMs);
  }
}

package io.polyray.api;

import java.util.Iterator;

/**
 * The refs a generator task yields, in order, as it yields them (Ray's
 * {@code ObjectRefGenerator}, {@code num_returns="streaming"}). Made by
 * {@code remoteGenerator()} on a task or actor-method caller.
 *
 * <pre>{@code
 * try (ObjectRefGenerator<Long> gen = PolyRay.task(Gens::count, 3).remoteGenerator()) {
 *   for (ObjectRef<Long> item : gen) {
 *     long v = PolyRay.get(item);
 *   }
 * }
 * }</pre>
 *
 * <p>{@link #hasNext()} waits until the next item arrived or the generator ended; an exception
 * raised by the generator comes at its place in the stream: {@code next()} returns a ref whose
 * {@code get} throws it, and the stream ends there. A worker that dies ends the stream the
 * same way (the ref's {@code get} throws the system error). The items are owned by this
 * process; {@link #close()} (or dropping the generator) releases the items not taken, and
 * those still to come. Iterate it once; not thread-safe.
 *
 * @param <T> the items' type ({@code get} converts them to it)
 */
public interface ObjectRefGenerator<T> extends Iterator<ObjectRef<T>>, Iterable<ObjectRef<T>>, AutoCloseable {
  /**
   * Whether another item comes, waiting as long as the generator runs without yielding.
   *
   * @return false once the generator ended (or this was closed) and every item was taken
   */
  @Override
  boolean hasNext();

  /**
   * Whether another item comes, waiting at most {@code timeoutMs}.
   *
   * @param timeoutMs how long to wait, in milliseconds (0: do not wait)
   * @return false once the generator ended and every item was taken
   * @throws io.polyray.api.exception.GetTimeoutException when neither an item nor the end came in time
   */
  boolean hasNext(long timeoutMs);

  /**
   * The next item's ref, waiting as long as the generator runs without yielding.
   *
   * @return the ref (owned by this process)
   * @throws java.util.NoSuchElementException after the end
   */
  @Override
  ObjectRef<T> next();

  /**
   * The next item's ref, waiting at most {@code timeoutMs}.
   *
   * @param timeoutMs how long to wait, in milliseconds
   * @return the ref
   * @throws io.polyray.api.exception.GetTimeoutException when neither an item nor the end came in time
   * @throws java.util.NoSuchElementException after the end
   */
  ObjectRef<T> next(long timeoutMs);

  /**
   * The ref of the stream's end: ready once the generator finished; its value is the number
   * of items (its {@code get} throws the generator's error when it failed).
   *
   * @return the end's ref
   */
  ObjectRef<Long> completed();

  /** This generator itself (iterate it once). */
  @Override
  default Iterator<ObjectRef<T>> iterator() {
    return this;
  }

  /** Releases the items not taken yet and those still to come; later {@code hasNext} is false. */
  @Override
  void close();
}

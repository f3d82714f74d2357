package io.polyray.runtime.worker;

import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import java.util.Iterator;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The callee's side of a generator task ({@code TaskSpec.generator}, python/polyray/core/
 * generators.py): a Java method that returned an {@code Iterator}, {@code Iterable} or
 * {@code Stream} has each item sent as it is produced, as a TaskResult with
 * {@code generator_item = k} (1-based) on the task's result stream, before the task's own
 * result: the item count (return 1, the stream's end).
 *
 * <p>Invariants: items go out in order, each after its store copy (if any) is pinned; an
 * exception from the iteration (or an item that cannot be encoded) ends the stream with the
 * task's error at its place; "dynamic" ({@code generator = 1}) is not offered by Java callees
 * (its end value is a Python object), so it is refused with a clear error. Stateless.
 */
final class StreamedReturns {
  private StreamedReturns() {
  }

  /** A result the task already failed with (a runtime error or the user's exception). */
  static final class Failed extends Exception {
    private static final long serialVersionUID = 1L;
    final transient ErrorRecord record;
    final boolean application;

    Failed(ErrorRecord record, boolean application) {
      super(record.getMessage(), null, false, false);
      this.record = record;
      this.application = application;
    }
  }

  /** The items of what a generator method returned, or null when it is not a sequence. */
  static Iterator<?> itemsOf(Object value) {
    if (value instanceof Iterator) {
      return (Iterator<?>) value;
    }
    if (value instanceof Iterable) {
      return ((Iterable<?>) value).iterator();
    }
    if (value instanceof java.util.stream.BaseStream) {
      return ((java.util.stream.BaseStream<?, ?>) value).iterator();
    }
    if (value instanceof Object[]) {
      return java.util.Arrays.asList((Object[]) value).iterator();
    }
    return null;
  }

  /**
   * Sends the items of {@code value} as they are produced, then gives the task's own result.
   *
   * @param spec the generator task
   * @param fn the method that ran
   * @param value what it returned
   * @param returns the encoder of items and of the end
   * @param reply the task's result stream (null: nobody to stream to, a runtime error)
   * @param cancelled whether the task was cancelled meanwhile
   * @return the task's result: the item count
   * @throws Failed the task's error (its ERROR value is at the stream's place)
   */
  static TaskResult run(TaskSpec spec, Invocable fn, Object value, ReturnEncoder returns, Consumer<TaskResult> reply,
      BooleanSupplier cancelled) throws Failed {
    if (spec.getGenerator() != 2) {
      throw new Failed(ErrorRecords.runtimeError("java.lang.IllegalArgumentException", fn.displayName()
          + " was called with num_returns='dynamic': Java callees stream items with num_returns='streaming' only"),
          false);
    }
    Iterator<?> items = itemsOf(value);
    if (items == null || reply == null) {
      throw new Failed(ErrorRecords.runtimeError("java.lang.IllegalArgumentException", fn.displayName()
          + " was called with num_returns='streaming' but returned " + (value == null ? "null"
              : "a " + value.getClass().getTypeName()) + ", not an Iterator, Iterable, Stream or array"), false);
    }
    long count = 0;
    try {
      while (true) {
        Object item;
        try {
          if (!items.hasNext()) {
            break;
          }
          item = items.next();
        } catch (RuntimeException | Error e) {
          if (cancelled.getAsBoolean()) {
            throw new Failed(ErrorRecord.newBuilder(ErrorRecords.system(ErrorKind.TASK_CANCELLED, "task "
                + spec.getName() + " was cancelled while running")).setCause(ErrorRecords.fromThrowable(e)).build(),
                false);
          }
          throw new Failed(ErrorRecords.fromThrowable(e), true);
        }
        ReturnObject obj;
        try {
          obj = returns.encodeItem(spec, fn, (int) count, item);
        } catch (TaskFailure f) {
          throw new Failed(f.record(), false);
        }
        count++;
        reply.accept(TaskResult.newBuilder().setTaskId(spec.getTaskId()).addReturns(obj)
            .setGeneratorItem((int) count).build());
      }
    } finally {
      if (value instanceof AutoCloseable) {
        try {
          ((AutoCloseable) value).close(); // a Stream's onClose handlers, a resource behind the items
        } catch (Exception e) {
          // the items were sent; closing is best effort
        }
      }
    }
    try {
      return TaskResult.newBuilder().setTaskId(spec.getTaskId()).addAllReturns(returns.encode(spec, fn, count))
          .build();
    } catch (TaskFailure f) {
      throw new Failed(f.record(), false);
    }
  }
}

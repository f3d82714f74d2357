package io.polyray.runtime.worker;

import com.google.protobuf.ByteString;
import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.codec.Encoded;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.codec.XlangTypeException;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.spec.Policies;
import io.polyray.runtime.store.StoreFullException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Encodes what a task returned into its return objects: each value inline when small
 * ({@link Policies#travelsInline}), else put into the node's store for the caller.
 *
 * <p>Owns the step between "the function returned" and "the result can be sent". Invariants:
 * the result names a store copy only once the raylet pinned it (all pins of a result go out
 * together and are awaited here, so a worker dying after its reply leaves no unpinned return
 * behind); nested refs in a value are lent to the caller before the result goes out; any
 * failure is a {@link TaskFailure}, which the {@link TaskExecutor} turns into an ERROR value
 * per return. Stateless apart from its worker, so safe to call from several task threads.
 * Split out of TaskExecutor (which runs tasks) to keep one concept per file.
 */
final class ReturnEncoder {
  private final JavaWorker worker;

  ReturnEncoder(JavaWorker worker) {
    this.worker = worker;
  }

  /**
   * The task's return objects for the value its function returned.
   *
   * @param spec the task (its num_returns, caller and ID)
   * @param fn the function that ran (named in errors)
   * @param value what it returned (a List or array of num_returns values when num_returns &gt; 1)
   * @return one ReturnObject per return, in order
   * @throws TaskFailure when a value cannot be encoded or stored, or the count is wrong
   */
  List<ReturnObject> encode(TaskSpec spec, Invocable fn, Object value) throws TaskFailure {
    int n = spec.getNumReturns();
    if (n <= 0) {
      return List.of();
    }
    List<?> values;
    if (n == 1) {
      values = Collections.singletonList(value);
    } else {
      values = asList(value);
      if (values == null || values.size() != n) {
        throw new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalArgumentException",
            fn.displayName() + " has num_returns=" + n + " but returned "
                + (values == null ? (value == null ? "null" : "a " + value.getClass().getTypeName())
                    + ", not a List or an array" : values.size() + " values")));
      }
    }
    List<ReturnObject> out = new ArrayList<>(n);
    List<java.util.concurrent.CompletableFuture<Boolean>> pins = new ArrayList<>();
    List<String> pinned = new ArrayList<>(); // what each pin stores, for the error
    for (int i = 0; i < n; i++) {
      String what = n == 1 ? "the return value of " + fn.displayName()
          : "return value " + i + " of " + fn.displayName();
      out.add(one(spec, values.get(i), what, Ids.returnId(spec.getTaskId(), i + 1), pins, pinned));
    }
    awaitPins(pins, pinned);
    return out;
  }

  /**
   * Item {@code k} (0-based) a generator task produced: a return object of index k + 2 for
   * its caller (return 1 is the stream's end), stored and pinned first when large.
   *
   * @param spec the generator task
   * @param fn the function that ran
   * @param k the item's position
   * @param value the item
   * @return its return object
   * @throws TaskFailure when it cannot be encoded or stored
   */
  ReturnObject encodeItem(TaskSpec spec, Invocable fn, int k, Object value) throws TaskFailure {
    List<java.util.concurrent.CompletableFuture<Boolean>> pins = new ArrayList<>();
    List<String> pinned = new ArrayList<>();
    ReturnObject r = one(spec, value, "item " + k + " of " + fn.displayName(), Ids.returnId(spec.getTaskId(), k + 2),
        pins, pinned);
    awaitPins(pins, pinned);
    return r;
  }

  /** One value's return object (a pin of its store copy, if any, is added to {@code pins}). */
  private ReturnObject one(TaskSpec spec, Object value, String what, ByteString oid,
      List<java.util.concurrent.CompletableFuture<Boolean>> pins, List<String> pinned) throws TaskFailure {
    Codec codec = worker.codec();
    Encoded enc;
    try {
      // A Java caller reads Serializable values with no XLANG form as Java-native values.
      enc = codec.encode(value, what, spec.getCallerLanguage() == io.polyray.runtime.proto.Language.JAVA);
    } catch (XlangTypeException e) {
      throw new TaskFailure(ErrorRecords.runtimeError(XlangTypeException.class.getName(), e.getMessage()));
    } catch (RuntimeException e) {
      throw new TaskFailure(ErrorRecords.runtimeError(e.getClass().getName(),
          what + " cannot be encoded: " + e.getMessage()));
    }
    worker.lend(enc.nestedRefs(), spec.getCaller()); // held for the caller until it acknowledges
    ReturnObject.Builder r = ReturnObject.newBuilder().setObjectId(oid).setSize(enc.size())
        .addAllNestedRefs(enc.nestedRefs());
    if (!enc.nestedRefs().isEmpty()) {
      r.setLender(worker.address().getWorkerId()); // the caller names it when it acknowledges
    }
    if (!Policies.travelsInline(enc.size())) {
      try {
        pins.add(worker.putInStore(oid, enc, spec.getCaller()));
        pinned.add(what + " (" + enc.size() + " bytes)");
      } catch (StoreFullException | io.polyray.api.exception.ObjectStoreFullException e) {
        throw new TaskFailure(ErrorRecords.system(ErrorKind.OBJECT_STORE_FULL,
            what + " (" + enc.size() + " bytes) does not fit in the node's store: " + e.getMessage()));
      } catch (RuntimeException e) {
        throw new TaskFailure(ErrorRecords.runtimeError(e.getClass().getName(),
            "cannot put " + what + " (" + enc.size() + " bytes) into the node's store: " + e.getMessage()));
      }
      r.setInStoreNode(worker.nodeId());
    } else {
      r.setValue(enc.toEnvelope());
    }
    return r.build();
  }

  /** Waits for the pins of a result's store copies; one that failed fails the task. */
  private static void awaitPins(List<java.util.concurrent.CompletableFuture<Boolean>> pins, List<String> pinned)
      throws TaskFailure {
    // The result names the store copies only once the raylet pinned them (their pins went
    // out together, batched with the process's puts): a worker dying after its reply leaves
    // no unpinned return behind. A pin that failed fails the task, as the synchronous one did.
    for (int i = 0; i < pins.size(); i++) {
      boolean ok;
      try {
        ok = pins.get(i).get(io.polyray.runtime.spec.RuntimeSpec.RPC_TIMEOUT_S + 5,
            java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        ok = false;
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        ok = false;
      }
      if (!ok) {
        throw new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalStateException",
            "the raylet did not pin " + pinned.get(i) + " in the node's store"));
      }
    }
  }

  private static List<?> asList(Object v) {
    if (v instanceof List) {
      return (List<?>) v;
    }
    if (v instanceof Object[]) {
      return java.util.Arrays.asList((Object[]) v);
    }
    return null;
  }
}

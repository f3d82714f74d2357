package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorReason;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.spec.Policies;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import java.util.function.BiPredicate;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Recomputing lost objects from their lineage (the owner's side; as
 * python/polyray/core/object_recovery.py).
 *
 * <p>When a get of an object this process owns finds every copy gone, or a borrower's
 * GetObject with {@code lost} finds so, {@link #recover} resubmits the task that created it
 * (from the {@link Lineage}) as a new attempt, counted against the task's
 * {@code max_retries}, through the normal task submitter. Before that it probes the task's
 * arguments this process owns (every known copy, not only the primary) and recomputes,
 * recursively, those whose copies are all gone. The
 * task's stored returns are reset in the memory store, so every waiting get sees the new
 * value when the task completes.
 *
 * <p>An object that cannot come back is completed with an OBJECT_LOST error whose reason
 * says why: REASON_PUT, REASON_LINEAGE_EVICTED, REASON_RETRIES_EXHAUSTED.
 *
 * <p>Invariants: one reconstruction per task at a time ({@link Lineage#beginRecovery});
 * arguments resubmitted are counted as submitted until the task finishes; the decision runs
 * on the caller's thread, probing and waiting for arguments on {@code executor}.
 */
final class ObjectRecovery {
  /** How long recomputing one argument may take before the task fails with it lost. */
  static final long ARG_WAIT_MS = 300_000;

  private final Lineage lineage;
  private final MemoryStore store;
  private final Predicate<ByteString> isOwned;
  private final Consumer<List<ByteString>> addSubmitted;
  private final Consumer<PendingTask> submit;
  private final BiPredicate<ByteString, ByteString> copyExists;
  private final BiFunction<ByteString, ByteString, List<ByteString>> copies;
  private final Executor executor;
  /** Tasks resubmitted to recompute lost objects (for tests and stats). */
  final AtomicLong resubmitted = new AtomicLong();

  /**
   * A recovery.
   *
   * @param lineage the owner's lineage
   * @param store its memory store
   * @param isOwned whether an object is owned here (and not freed)
   * @param addSubmitted counts arguments as submitted
   * @param submit the normal task submitter's submit (any thread)
   * @param copyExists (oid, node) does that node's store still hold the object (blocking)
   * @param copies (oid, primary node) every node known to hold a copy, the primary first
   * @param executor where probes and waits for arguments run
   */
  ObjectRecovery(Lineage lineage, MemoryStore store, Predicate<ByteString> isOwned,
      Consumer<List<ByteString>> addSubmitted, Consumer<PendingTask> submit,
      BiPredicate<ByteString, ByteString> copyExists, BiFunction<ByteString, ByteString, List<ByteString>> copies,
      Executor executor) {
    this.lineage = lineage;
    this.store = store;
    this.isOwned = isOwned;
    this.addSubmitted = addSubmitted;
    this.submit = submit;
    this.copyExists = copyExists;
    this.copies = copies;
    this.executor = executor;
  }

  static ErrorRecord lostRecord(ErrorReason reason, String message, ErrorRecord cause) {
    ErrorRecord.Builder b = ErrorRecords.system(ErrorKind.OBJECT_LOST, message).toBuilder().setReason(reason);
    if (cause != null) {
      b.setCause(cause);
    }
    return b.build();
  }

  private static boolean stored(MemoryStore.Entry e) {
    return e != null && e.error == null && e.envelope == null && e.inStoreNode != null && !e.inStoreNode.isEmpty();
  }

  /**
   * Whether any node known to hold {@code oid} still does (blocking; for a borrower's
   * {@code lost} and before an argument is recomputed): the primary's node first, then
   * every node a copy was pulled to.
   */
  boolean anyCopy(ByteString oid, MemoryStore.Entry e) {
    if (!stored(e)) {
      return false;
    }
    for (ByteString node : copies.apply(oid, e.inStoreNode)) {
      if (copyExists.test(oid, node)) {
        return true;
      }
    }
    return false;
  }

  /**
   * {@code oid} (owned here) has no readable copy: recompute it, or complete it with its loss.
   * {@code seen} is the entry the caller found lost; if the memory store holds another by now,
   * someone else already handled it and nothing is done.
   */
  void recover(ByteString oid, MemoryStore.Entry seen) {
    MemoryStore.Entry current = store.getIfReady(oid);
    if (seen != null && current != seen) {
      return;
    }
    if (current != null && (current.error != null || current.envelope != null)) {
      return; // an inline value or an error: nothing to recompute
    }
    if (!isOwned.test(oid)) {
      return;
    }
    String hex = Hex.of(oid.toByteArray());
    ByteString tid = Ids.taskOf(oid);
    if (Lineage.isPutId(oid)) {
      lose(oid, ErrorReason.REASON_PUT, "object " + hex + " was created by put() and every copy of it is gone "
          + "(its node died or it was evicted); a put cannot be recomputed", false);
      return;
    }
    Lineage.Entry entry = lineage.ofObject(oid);
    if (entry == null) {
      if (lineage.recovering(tid)) {
        return;
      }
      if (lineage.wasEvicted(oid)) {
        lose(oid, ErrorReason.REASON_LINEAGE_EVICTED, "object " + hex + " is lost and cannot be recomputed: the "
            + "lineage of its task was evicted to keep lineage memory under " + lineage.maxBytes
            + " bytes (POLYRAY_LINEAGE_MAX_BYTES)", false);
      } else {
        lose(oid, ErrorReason.REASON_UNSPECIFIED, "object " + hex + " is lost and has no lineage to recompute it "
            + "(only returns of normal tasks are recomputed)", false);
      }
      return;
    }
    if (!lineage.beginRecovery(tid)) {
      return; // merged with the reconstruction under way
    }
    TaskSpec last = entry.spec;
    List<ByteString> returns = Lineage.returnIds(last);
    String name = last.getName().isEmpty() ? "?" : last.getName();
    if (!Policies.canRetry(last.getAttempt(), last.getMaxRetries())) {
      lineage.endRecovery(tid);
      for (ByteString rid : returns) {
        lose(rid, ErrorReason.REASON_RETRIES_EXHAUSTED, "object " + Hex.of(rid.toByteArray()) + " is lost and "
            + "cannot be recomputed: its task " + name + " has run " + (last.getAttempt() + 1) + " time(s) and "
            + "max_retries=" + last.getMaxRetries(), true);
      }
      return;
    }
    TaskSpec spec = last.toBuilder().setAttempt(last.getAttempt() + 1).build();
    for (ByteString rid : returns) {
      if (stored(store.getIfReady(rid))) {
        store.delete(rid);
      }
    }
    store.delete(oid);
    List<ByteString> argIds = entry.argIds;
    executor.execute(() -> {
      ErrorRecord failure = restoreArgs(argIds);
      if (failure != null) {
        lineage.endRecovery(tid);
        for (ByteString rid : returns) {
          if (isOwned.test(rid)) {
            store.set(rid, MemoryStore.Entry.error(lostRecord(ErrorReason.REASON_RETRIES_EXHAUSTED, "object "
                + Hex.of(rid.toByteArray()) + " is lost: an argument of its task " + name
                + " could not be recomputed", failure)));
          }
        }
        return;
      }
      addSubmitted.accept(argIds);
      resubmitted.incrementAndGet();
      submit.accept(new PendingTask(spec, new ArrayList<>(argIds)));
    });
  }

  /** Recomputes the owned arguments whose copies are gone; the first failure, or null. */
  ErrorRecord restoreArgs(List<ByteString> argIds) {
    List<ByteString> lost = new ArrayList<>();
    for (ByteString aid : new LinkedHashSet<>(argIds)) {
      if (!isOwned.test(aid)) {
        continue; // borrowed: its owner recovers it when the task's worker asks
      }
      MemoryStore.Entry e = store.getIfReady(aid);
      if (!stored(e)) {
        continue; // pending, inline, or an error the task will see
      }
      if (!anyCopy(aid, e)) {
        recover(aid, e);
        lost.add(aid);
      }
    }
    for (ByteString aid : lost) {
      MemoryStore.Entry e;
      try {
        e = store.future(aid).get(ARG_WAIT_MS, TimeUnit.MILLISECONDS);
      } catch (TimeoutException x) {
        return lostRecord(ErrorReason.REASON_UNSPECIFIED, "argument " + Hex.of(aid.toByteArray())
            + " was not recomputed within " + ARG_WAIT_MS / 1000 + " s", null);
      } catch (InterruptedException x) {
        Thread.currentThread().interrupt();
        return lostRecord(ErrorReason.REASON_UNSPECIFIED, "interrupted while recomputing argument "
            + Hex.of(aid.toByteArray()), null);
      } catch (java.util.concurrent.ExecutionException x) {
        return lostRecord(ErrorReason.REASON_UNSPECIFIED, "recomputing argument " + Hex.of(aid.toByteArray())
            + " failed: " + x.getCause(), null);
      }
      if (e.error != null) {
        return e.error;
      }
    }
    return null;
  }

  /**
   * A task completed (record null) or failed: ends its reconstruction. For a failed
   * reconstruction, the error its returns get (OBJECT_LOST, REASON_RETRIES_EXHAUSTED, caused
   * by the failure); null when it was not a reconstruction or the task itself raised.
   */
  ErrorRecord onFinished(TaskSpec spec, ErrorRecord record) {
    if (!lineage.endRecovery(spec.getTaskId()) || record == null) {
      return null;
    }
    if (record.getKind() == ErrorKind.TASK_ERROR) {
      return null; // the task itself raised: its error is the value, as on the first run
    }
    return lostRecord(ErrorReason.REASON_RETRIES_EXHAUSTED, "the objects of task "
        + (spec.getName().isEmpty() ? Hex.of(spec.getTaskId().toByteArray()) : spec.getName())
        + " were lost and recomputing them failed after " + (spec.getAttempt() + 1) + " run(s) (max_retries="
        + spec.getMaxRetries() + ")", record);
  }

  private void lose(ByteString oid, ErrorReason reason, String message, boolean onlyStored) {
    if (!isOwned.test(oid)) {
      return;
    }
    MemoryStore.Entry e = store.getIfReady(oid);
    if (onlyStored && e != null && (e.envelope != null || e.error != null)) {
      return;
    }
    if (e != null) {
      store.delete(oid);
    }
    store.set(oid, MemoryStore.Entry.error(lostRecord(reason, message, null)));
  }
}

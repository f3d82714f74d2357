package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorReason;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The lineage table and ObjectRecovery with fakes: a map of argument pins stands for the
 * reference counter, a set of (object) ids with a live copy for the nodes' stores, a list
 * for the task submitter, and the executor runs at once.
 */
class LineageTest {
  private static final ByteString NODE = ByteString.copyFrom(new byte[28]);

  private final Map<ByteString, Integer> pins = new HashMap<>();
  private final Set<ByteString> owned = new HashSet<>();
  private final Set<ByteString> copies = new HashSet<>();
  private final List<PendingTask> submitted = new ArrayList<>();
  private final MemoryStore store = new MemoryStore();
  private int taskCounter;

  private void release(List<ByteString> ids) {
    for (ByteString id : ids) {
      pins.merge(id, -1, Integer::sum);
    }
  }

  private void pin(List<ByteString> ids) {
    for (ByteString id : ids) {
      pins.merge(id, 1, Integer::sum);
    }
  }

  private ByteString taskId() {
    byte[] b = new byte[24];
    b[0] = (byte) ++taskCounter;
    b[1] = (byte) (taskCounter >> 8);
    return ByteString.copyFrom(b);
  }

  private TaskSpec spec(int maxRetries, int padding) {
    return TaskSpec.newBuilder().setTaskId(taskId()).setType(TaskType.NORMAL_TASK).setNumReturns(1)
        .setMaxRetries(maxRetries).setName("f" + "x".repeat(padding)).build();
  }

  private static ByteString ret(TaskSpec s) {
    return Ids.returnId(s.getTaskId(), 1);
  }

  /** Copies pulled to other nodes, as the owner's ObjectLocations records them. */
  private final ObjectLocations locations = new ObjectLocations();
  /** (oid, node) pairs whose store still holds a pulled copy. */
  private final Set<List<ByteString>> aliveAt = new HashSet<>();
  private final List<ByteString> probed = new ArrayList<>();

  private ObjectRecovery recovery(Lineage lineage) {
    return new ObjectRecovery(lineage, store, owned::contains, this::pin, submitted::add,
        (oid, node) -> {
          probed.add(node);
          return copies.contains(oid) || aliveAt.contains(List.of(oid, node));
        }, locations::of, Runnable::run);
  }

  @Test
  void everyKnownCopyIsProbedBeforeARecomputation() {
    Lineage lineage = new Lineage(1 << 20, this::release);
    ObjectRecovery rec = recovery(lineage);
    byte[] bb = new byte[28];
    bb[0] = 'B';
    ByteString b = ByteString.copyFrom(bb);
    byte[] cc = new byte[28];
    cc[0] = 'C';
    ByteString c = ByteString.copyFrom(cc);
    ByteString arg = complete(lineage, spec(1, 0), List.of());
    // The primary (NODE) died; copies were pulled to B and C, and C's survives.
    locations.add(arg, b);
    locations.add(arg, c);
    locations.add(arg, NODE);
    aliveAt.add(List.of(arg, c));
    assertTrue(rec.anyCopy(arg, store.getIfReady(arg)));
    assertEquals(List.of(NODE, b, c), probed, "the primary first, then the pulled copies, each once");
    // The consumer's return is lost; its argument survives on C: only the consumer is re-run.
    TaskSpec consumer = spec(1, 0);
    ByteString r = complete(lineage, consumer, List.of(arg));
    rec.recover(r, store.getIfReady(r));
    assertEquals(1, submitted.size());
    assertEquals(consumer.getTaskId(), submitted.get(0).spec.getTaskId());
    // No copy left anywhere: lost; and freeing forgets the locations.
    aliveAt.clear();
    assertFalse(rec.anyCopy(arg, store.getIfReady(arg)));
    locations.remove(arg);
    assertEquals(List.of(NODE), locations.of(arg, NODE));
    assertEquals(0, locations.size());
  }

  /** A task finished with its return in a store: recorded as the owner does. */
  private ByteString complete(Lineage lineage, TaskSpec s, List<ByteString> args) {
    pin(args);
    ByteString r = ret(s);
    owned.add(r);
    store.set(r, MemoryStore.Entry.inStore(NODE, 1 << 20, List.of()));
    lineage.record(s, args, List.of(r));
    return r;
  }

  @Test
  void boundEvictsOldestFirstAndReleasesItsArguments() {
    Lineage lineage = new Lineage(1000, this::release);
    ByteString argA = ByteString.copyFromUtf8("a".repeat(28));
    ByteString argB = ByteString.copyFromUtf8("b".repeat(28));
    TaskSpec first = spec(3, 300);
    TaskSpec second = spec(3, 300);
    ByteString r1 = complete(lineage, first, List.of(argA));
    ByteString r2 = complete(lineage, second, List.of(argB));
    assertEquals(2, lineage.size());
    assertTrue(lineage.bytesUsed() <= 1000);
    assertEquals(1, pins.get(argA));
    TaskSpec third = spec(3, 300);
    ByteString r3 = complete(lineage, third, List.of());
    // Over the bound: the oldest (first) went, its argument's pin with it.
    assertTrue(lineage.bytesUsed() <= 1000, "bytes used " + lineage.bytesUsed());
    assertNull(lineage.ofObject(r1));
    assertTrue(lineage.wasEvicted(r1));
    assertNotNull(lineage.ofObject(r2));
    assertNotNull(lineage.ofObject(r3));
    assertEquals(0, pins.get(argA));
    assertEquals(1, pins.get(argB));
    assertEquals(1, lineage.evictions());
    // A bound of 0 keeps nothing.
    Lineage none = new Lineage(0, this::release);
    complete(none, spec(3, 0), List.of(argB));
    assertEquals(0, none.size());
    assertEquals(1, pins.get(argB));
  }

  @Test
  void argumentsStayPinnedUntilTheLastReturnIsFreed() {
    Lineage lineage = new Lineage(1 << 20, this::release);
    ByteString arg = ByteString.copyFromUtf8("c".repeat(28));
    TaskSpec s = spec(1, 0).toBuilder().setNumReturns(2).build();
    pin(List.of(arg));
    ByteString r1 = Ids.returnId(s.getTaskId(), 1);
    ByteString r2 = Ids.returnId(s.getTaskId(), 2);
    lineage.record(s, List.of(arg), List.of(r1, r2));
    lineage.onFree(r1);
    assertEquals(1, pins.get(arg));
    assertNotNull(lineage.ofObject(r2));
    lineage.onFree(r2);
    assertEquals(0, pins.get(arg));
    assertEquals(0, lineage.size());
    assertEquals(0, lineage.bytesUsed());
    // A second record of the same task (a reconstruction) releases its new pins at once.
    pin(List.of(arg));
    lineage.record(s, List.of(arg), List.of(r1));
    pin(List.of(arg));
    lineage.record(s.toBuilder().setAttempt(1).build(), List.of(arg), List.of(r1));
    assertEquals(1, pins.get(arg));
    assertEquals(1, lineage.ofObject(r1).spec.getAttempt());
  }

  @Test
  void recoveryResubmitsOnceAsTheNextAttemptAndMerges() {
    Lineage lineage = new Lineage(1 << 20, this::release);
    ObjectRecovery rec = recovery(lineage);
    TaskSpec s = spec(2, 0);
    ByteString r = complete(lineage, s, List.of());
    MemoryStore.Entry lost = store.getIfReady(r);
    rec.recover(r, lost);
    rec.recover(r, null); // a second get finding the loss at the same time: merged
    assertEquals(1, submitted.size());
    assertEquals(1, submitted.get(0).spec.getAttempt());
    assertNull(store.getIfReady(r), "the lost entry is reset so gets wait for the new value");
    // The re-run completes: the reconstruction ends, lineage keeps the new attempt.
    assertNull(rec.onFinished(submitted.get(0).spec, null));
    lineage.record(submitted.get(0).spec, List.of(), List.of(r));
    store.set(r, MemoryStore.Entry.inStore(NODE, 1, List.of()));
    rec.recover(r, store.getIfReady(r));
    assertEquals(2, submitted.size());
    assertEquals(2, submitted.get(1).spec.getAttempt());
    rec.onFinished(submitted.get(1).spec, null);
    lineage.record(submitted.get(1).spec, List.of(), List.of(r));
    store.set(r, MemoryStore.Entry.inStore(NODE, 1, List.of()));
    // max_retries=2 used: the next loss is RETRIES_EXHAUSTED.
    rec.recover(r, store.getIfReady(r));
    assertEquals(2, submitted.size());
    ErrorRecord err = store.getIfReady(r).error;
    assertEquals(ErrorKind.OBJECT_LOST, err.getKind());
    assertEquals(ErrorReason.REASON_RETRIES_EXHAUSTED, err.getReason());
  }

  @Test
  void lostOwnedArgumentsAreRecomputedFirst() {
    Lineage lineage = new Lineage(1 << 20, this::release);
    ObjectRecovery rec = recovery(lineage);
    TaskSpec producer = spec(1, 0);
    ByteString arg = complete(lineage, producer, List.of());
    TaskSpec consumer = spec(1, 0);
    ByteString r = complete(lineage, consumer, List.of(arg));
    // Both copies gone. The argument's recovery is submitted, and the consumer waits for it:
    // complete the argument from a second thread as the submitter would.
    Thread finisher = new Thread(() -> {
      long end = System.currentTimeMillis() + 10_000;
      while (submitted.isEmpty() && System.currentTimeMillis() < end) {
        Thread.onSpinWait();
      }
      store.set(arg, MemoryStore.Entry.inStore(NODE, 1, List.of()));
    });
    finisher.start();
    rec.recover(r, store.getIfReady(r));
    assertEquals(2, submitted.size());
    assertEquals(producer.getTaskId(), submitted.get(0).spec.getTaskId());
    assertEquals(consumer.getTaskId(), submitted.get(1).spec.getTaskId());
    assertEquals(List.of(arg), submitted.get(1).argIds);
    assertEquals(2, pins.get(arg), "pinned by the lineage and by the resubmitted task");
  }

  @Test
  void reasonsForWhatCannotComeBack() {
    Lineage lineage = new Lineage(400, this::release);
    ObjectRecovery rec = recovery(lineage);
    // A put.
    ByteString put = Ids.returnId(taskId(), 0x80000001);
    assertTrue(Lineage.isPutId(put));
    owned.add(put);
    store.set(put, MemoryStore.Entry.inStore(NODE, 1, List.of()));
    rec.recover(put, store.getIfReady(put));
    assertEquals(ErrorReason.REASON_PUT, store.getIfReady(put).error.getReason());
    // max_retries=0.
    ByteString once = complete(lineage, spec(0, 0), List.of());
    rec.recover(once, store.getIfReady(once));
    assertEquals(ErrorReason.REASON_RETRIES_EXHAUSTED, store.getIfReady(once).error.getReason());
    // Evicted lineage.
    ByteString old = complete(lineage, spec(3, 200), List.of());
    complete(lineage, spec(3, 200), List.of());
    assertTrue(lineage.wasEvicted(old));
    rec.recover(old, store.getIfReady(old));
    assertEquals(ErrorReason.REASON_LINEAGE_EVICTED, store.getIfReady(old).error.getReason());
    assertTrue(submitted.isEmpty());
    // A re-run that fails with a system error: its returns get RETRIES_EXHAUSTED caused by it.
    TaskSpec s = spec(1, 0);
    lineage.beginRecovery(s.getTaskId());
    ErrorRecord crash = ErrorRecord.newBuilder().setKind(ErrorKind.WORKER_CRASHED).setMessage("x").build();
    ErrorRecord lost = rec.onFinished(s, crash);
    assertEquals(ErrorReason.REASON_RETRIES_EXHAUSTED, lost.getReason());
    assertSame(ErrorKind.WORKER_CRASHED, lost.getCause().getKind());
    assertFalse(lineage.recovering(s.getTaskId()));
    // An application error of the re-run is the value, as on a first run.
    lineage.beginRecovery(s.getTaskId());
    assertNull(rec.onFinished(s, crash.toBuilder().setKind(ErrorKind.TASK_ERROR).build()));
  }
}

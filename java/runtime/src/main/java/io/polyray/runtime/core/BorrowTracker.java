package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.FreeObjectsRequest;
import io.polyray.runtime.proto.UpdateBorrowsRequest;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The reference traffic of a {@link CoreWorker}: batched frees of store objects to the
 * raylet and borrow updates to owners.
 *
 * <p>Borrow updates follow the reference protocol (docs/ownership.md; the same rules as
 * python/polyray/core/borrow_tracker.py): one call open per owner (order kept), at most
 * {@code max_borrow_updates_in_flight} across owners, and a removal (or an acknowledgement
 * of a lend) is sent only once every hold (added, lent) decided before it was answered.
 */
final class BorrowTracker {
  private final CoreWorker w;

  /** Owned in-store objects to free, batched (io thread). */
  private List<ByteString> pendingFree = new ArrayList<>();
  /** UpdateBorrows calls open at once across owners (docs/ownership.md, "Fan-out"). */
  static final int MAX_IN_FLIGHT = RuntimeSpec.FANOUT_MAX_BORROW_UPDATES_IN_FLIGHT;

  /**
   * Test hook (tests/chaos/test_lender_death.py; docs/ownership.md, Deaths): with {@code
   * POLYRAY_TEST_KILL_AFTER_LEND=1} this process SIGKILLs itself as soon as an owner answered
   * a lend it made for a caller: the lend landed, the task's result cannot leave. Never set
   * outside tests.
   */
  static final boolean KILL_AFTER_LEND = "1".equals(System.getenv("POLYRAY_TEST_KILL_AFTER_LEND"));

  private static void killSelf() {
    try {
      new ProcessBuilder("kill", "-9", Long.toString(ProcessHandle.current().pid())).start().waitFor();
    } catch (Exception e) {
      // fall through
    }
    Runtime.getRuntime().halt(137);
  }

  /** Owner and, for lends made on a caller's behalf, that caller (else empty). */
  record Key(ByteString owner, ByteString borrower) {}

  /**
   * Borrow updates decided and not yet sent, per key, with the order rule; no I/O (the
   * tracker's, and unit-tested alone). Not thread-safe: the tracker guards it.
   */
  static final class Queue {
    private static final int ADDED = 0;
    private static final int LENT = 1;
    private static final int REMOVED = 2;
    private static final int ACKED = 3;

    /** One update, numbered in decision order ({@code lender}: an acknowledgement's, else null). */
    private record Item(long seq, int kind, ByteString oid, ByteString lender) {}

    private final Map<Key, ArrayDeque<Item>> queues = new LinkedHashMap<>();
    private final Set<Key> busy = new HashSet<>();
    /** Sequence numbers of holds (added, lent) not answered yet; answered ones leave lazily. */
    private final PriorityQueue<Long> unacked = new PriorityQueue<>();
    private final Set<Long> acked = new HashSet<>();
    private long seq;

    /** Queues updates; each gets a sequence number in decision order. */
    void decide(Key key, List<ByteString> added, List<ByteString> lent, List<ByteString> removed,
        List<ByteString> ackedIds) {
      decide(key, added, lent, removed, ackedIds, ByteString.EMPTY);
    }

    /** As above; {@code lender}: the executor whose return carried {@code ackedIds}. */
    void decide(Key key, List<ByteString> added, List<ByteString> lent, List<ByteString> removed,
        List<ByteString> ackedIds, ByteString lender) {
      ArrayDeque<Item> q = queues.computeIfAbsent(key, k -> new ArrayDeque<>());
      append(q, ADDED, added, null);
      append(q, LENT, lent, null);
      append(q, REMOVED, removed, null);
      append(q, ACKED, ackedIds, lender);
      if (q.isEmpty()) {
        queues.remove(key); // nothing decided: no empty queue to wait on
      }
    }

    private void append(ArrayDeque<Item> q, int kind, List<ByteString> oids, ByteString lender) {
      for (ByteString oid : oids) {
        long s = ++seq;
        q.add(new Item(s, kind, oid, lender));
        if (kind == ADDED || kind == LENT) {
          unacked.add(s);
        }
      }
    }

    private long oldestUnacked() {
      while (!unacked.isEmpty() && acked.remove(unacked.peek())) {
        unacked.poll();
      }
      return unacked.isEmpty() ? Long.MAX_VALUE : unacked.peek();
    }

    private static boolean holds(Item it) {
      return it.kind == ADDED || it.kind == LENT;
    }

    /** Keys with updates queued and no call open. */
    List<Key> waiting() {
      List<Key> out = new ArrayList<>();
      for (Map.Entry<Key, ArrayDeque<Item>> e : queues.entrySet()) {
        if (!e.getValue().isEmpty() && !busy.contains(e.getKey())) {
          out.add(e.getKey());
        }
      }
      return out;
    }

    /**
     * The next call for {@code key} (without its borrower): holds (added, lent) go at once;
     * a run of removals (removed, lent_received) only once every hold decided before it was
     * answered. Null when the key has a call open, nothing queued, or must wait.
     */
    UpdateBorrowsRequest.Builder take(Key key, List<Long> seqs) {
      ArrayDeque<Item> q = queues.get(key);
      if (q == null || q.isEmpty() || busy.contains(key)) {
        return null;
      }
      UpdateBorrowsRequest.Builder req = UpdateBorrowsRequest.newBuilder();
      if (holds(q.peek())) {
        while (!q.isEmpty() && holds(q.peek())) {
          Item it = q.poll();
          seqs.add(it.seq);
          if (it.kind == ADDED) {
            req.addAdded(it.oid);
          } else {
            req.addLent(it.oid);
          }
        }
      } else {
        long oldest = oldestUnacked();
        int n = 0;
        while (!q.isEmpty() && !holds(q.peek()) && q.peek().seq < oldest) {
          Item it = q.poll();
          n++;
          if (it.kind == REMOVED) {
            req.addRemoved(it.oid);
          } else {
            req.addLentReceived(it.oid);
            req.addLentReceivedLenders(it.lender);
          }
        }
        if (n == 0) {
          return null; // an earlier hold is still on its way to some owner
        }
      }
      if (q.isEmpty()) {
        queues.remove(key);
      }
      busy.add(key);
      return req;
    }

    /** A call for {@code key} was answered (or its owner found gone). */
    void answered(Key key, List<Long> seqs) {
      busy.remove(key);
      acked.addAll(seqs);
    }

    boolean hasQueued(Key key) {
      return queues.containsKey(key);
    }

    /** Nothing queued and no call open. */
    boolean idle() {
      return queues.isEmpty() && busy.isEmpty();
    }
  }

  // Borrow updates not yet answered (all guarded by borrowLock).
  private final Object borrowLock = new Object();
  private final Queue queue = new Queue();
  private final Map<Key, Address> owners = new java.util.HashMap<>();
  private final Map<Key, Address> borrowers = new java.util.HashMap<>();
  private final List<CompletableFuture<Void>> idleWaiters = new ArrayList<>();
  private int inFlight;
  private int maxInFlight;
  private boolean borrowFlushScheduled;

  BorrowTracker(CoreWorker w) {
    this.w = w;
  }

  void onFree(ByteString oid, ByteString inStoreNode) {
    w.memoryStore.delete(oid);
    if (!inStoreNode.isEmpty() && !w.shuttingDown) {
      w.onIo(() -> queueFree(oid));
    }
  }

  void queueFree(ByteString oid) {
    pendingFree.add(oid);
    if (pendingFree.size() == 1) {
      try {
        w.loop.schedule(this::flushFree, 10, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        // shut down
      }
    }
  }

  private void flushFree() {
    List<ByteString> ids = pendingFree;
    pendingFree = new ArrayList<>();
    if (ids.isEmpty() || w.shuttingDown) {
      return;
    }
    w.rayletAsync().withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, TimeUnit.SECONDS)
        .freeObjects(FreeObjectsRequest.newBuilder().addAllObjectIds(ids).build(), Rpcs.ignore());
  }

  void onBorrowChanged(Address owner, List<ByteString> added, List<ByteString> removed) {
    for (ByteString oid : removed) {
      w.memoryStore.delete(oid); // nothing here refers to the borrowed value any more
    }
    decide(owner, null, added, List.of(), removed, List.of());
  }

  /** This process acknowledges lends of refs it received in a task's return from {@code lender}. */
  void onLentReceived(Address owner, List<ByteString> oids, ByteString lender) {
    decide(owner, null, List.of(), List.of(), List.of(), oids, lender);
  }

  private void decide(Address owner, Address borrower, List<ByteString> added, List<ByteString> lent,
      List<ByteString> removed, List<ByteString> acked) {
    decide(owner, borrower, added, lent, removed, acked, ByteString.EMPTY);
  }

  /** Queues updates for {@code owner} (any thread); {@code borrower} non-null: lends on its behalf. */
  private void decide(Address owner, Address borrower, List<ByteString> added, List<ByteString> lent,
      List<ByteString> removed, List<ByteString> acked, ByteString lender) {
    if (w.shuttingDown) {
      return;
    }
    synchronized (borrowLock) {
      Key key = new Key(owner.getWorkerId(), borrower == null ? ByteString.EMPTY : borrower.getWorkerId());
      owners.put(key, owner);
      if (borrower != null) {
        borrowers.put(key, borrower);
      }
      queue.decide(key, added, lent, removed, acked, lender == null ? ByteString.EMPTY : lender);
      if (borrowFlushScheduled) {
        return;
      }
      borrowFlushScheduled = true;
    }
    w.onIo(this::flushBorrowsNow);
  }

  /** Sends what the order rule and the caps allow (any thread). */
  private void flushBorrowsNow() {
    List<Object[]> calls = new ArrayList<>();
    synchronized (borrowLock) {
      borrowFlushScheduled = false;
      for (Key key : queue.waiting()) {
        if (inFlight >= MAX_IN_FLIGHT) {
          break;
        }
        List<Long> seqs = new ArrayList<>();
        UpdateBorrowsRequest.Builder b = queue.take(key, seqs);
        if (b != null) {
          if (b.getLentCount() > 0) {
            b.setLender(w.address); // this process lends, on the caller's behalf
          }
          UpdateBorrowsRequest req = b.setBorrower(borrowers.getOrDefault(key, w.address)).build();
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          calls.add(new Object[] {key, req, seqs, owners.get(key)});
        }
      }
      if (calls.isEmpty() && idle()) {
        idleWaiters.forEach(f -> f.complete(null));
        idleWaiters.clear();
      }
    }
    for (Object[] c : calls) {
      send((Key) c[0], (UpdateBorrowsRequest) c[1], castSeqs(c[2]), (Address) c[3]);
    }
  }

  @SuppressWarnings("unchecked")
  private static List<Long> castSeqs(Object o) {
    return (List<Long>) o;
  }

  private void send(Key key, UpdateBorrowsRequest req, List<Long> seqs, Address owner) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    try {
      CoreWorkerServiceGrpc.newStub(w.channels.get(owner))
          .withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, TimeUnit.SECONDS)
          .updateBorrows(req, Rpcs.completing(done));
    } catch (RuntimeException e) {
      done.complete(null); // the owner is unreachable: nothing to keep alive there
    }
    done.whenComplete((x, t) -> {
      if (KILL_AFTER_LEND && t == null && req.getLentCount() > 0) {
        killSelf();
      }
      synchronized (borrowLock) {
        inFlight--;
        queue.answered(key, seqs);
        if (!queue.hasQueued(key)) {
          owners.remove(key);
          borrowers.remove(key);
        }
      }
      flushBorrowsNow();
    });
  }

  private boolean idle() {
    return queue.idle() && !borrowFlushScheduled;
  }

  /**
   * Whether borrow registrations are queued or on their way to owners.
   *
   * @return true when {@link #flushBorrows} has something to wait for
   */
  public boolean hasPendingBorrows() {
    synchronized (borrowLock) {
      return !idle();
    }
  }

  /** The most UpdateBorrows calls ever open at once (for tests). */
  int maxInFlight() {
    synchronized (borrowLock) {
      return maxInFlight;
    }
  }

  /**
   * Refs leave inside a task's return value to a caller that does not acknowledge lends:
   * the owned ones stay alive until the caller registers as their borrower.
   *
   * @param nested the references found in the value
   */
  public void lend(List<io.polyray.runtime.proto.ObjectRef> nested) {
    lend(nested, null);
  }

  /**
   * Refs leave inside a task's return value (docs/ownership.md, "The reference protocol"):
   * each is held on the caller's behalf until it acknowledges — owned ones here, others by
   * a lend to their owner, delivered before the result is sent ({@link #flushBorrows}).
   *
   * @param nested the references found in the value
   * @param caller the task's caller when it acknowledges lends, else null
   */
  public void lend(List<io.polyray.runtime.proto.ObjectRef> nested, Address caller) {
    List<ByteString> owned = new ArrayList<>();
    Map<ByteString, List<ByteString>> others = new LinkedHashMap<>();
    Map<ByteString, Address> otherOwners = new java.util.HashMap<>();
    for (io.polyray.runtime.proto.ObjectRef r : nested) {
      if (r.getOwner().getWorkerId().equals(w.workerId)) {
        owned.add(r.getObjectId());
      } else if (caller != null) {
        others.computeIfAbsent(r.getOwner().getWorkerId(), k -> new ArrayList<>()).add(r.getObjectId());
        otherOwners.put(r.getOwner().getWorkerId(), r.getOwner());
      }
    }
    if (!owned.isEmpty()) {
      w.references.addLent(owned, caller == null ? ByteString.EMPTY : caller.getWorkerId(), caller);
    }
    for (Map.Entry<ByteString, List<ByteString>> e : others.entrySet()) {
      decide(otherOwners.get(e.getKey()), caller, List.of(), e.getValue(), List.of(), List.of());
    }
  }

  /**
   * Waits until the borrow registrations made so far reached their owners (a worker
   * calls this before it replies to the task that gave it the references, so that no
   * owner frees an object a borrower still holds).
   *
   * @param timeoutMs the longest wait
   */
  public void flushBorrows(long timeoutMs) {
    CompletableFuture<Void> flushed = new CompletableFuture<>();
    synchronized (borrowLock) {
      if (idle()) {
        return;
      }
      idleWaiters.add(flushed);
    }
    w.onIo(this::flushBorrowsNow);
    try {
      flushed.get(timeoutMs, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // an owner that does not answer in time is treated as gone
    }
  }
}

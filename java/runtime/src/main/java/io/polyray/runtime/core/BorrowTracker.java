package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.FreeObjectsRequest;
import io.polyray.runtime.proto.UpdateBorrowsRequest;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The reference traffic of a {@link CoreWorker}: batched frees of store objects to the
 * raylet and batched borrow registrations to owners.
 */
final class BorrowTracker {
  private final CoreWorker w;

  /** Owned in-store objects to free, batched (io thread). */
  private List<ByteString> pendingFree = new ArrayList<>();
  /** Borrow registrations per owner, batched (guarded by borrowLock). */
  private final Object borrowLock = new Object();
  private Map<ByteString, BorrowBatch> pendingBorrows = new LinkedHashMap<>();
  private boolean borrowFlushScheduled;
  private final List<CompletableFuture<?>> borrowCalls = new ArrayList<>();

  private static final class BorrowBatch {
    final Address owner;
    final List<ByteString> added = new ArrayList<>();
    final List<ByteString> removed = new ArrayList<>();

    BorrowBatch(Address owner) {
      this.owner = owner;
    }
  }

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
    if (w.shuttingDown) {
      return;
    }
    synchronized (borrowLock) {
      BorrowBatch b = pendingBorrows.computeIfAbsent(owner.getWorkerId(), k -> new BorrowBatch(owner));
      b.added.addAll(added);
      b.removed.addAll(removed);
      if (borrowFlushScheduled) {
        return;
      }
      borrowFlushScheduled = true;
    }
    w.onIo(this::flushBorrowsNow);
  }

  /** Sends the queued borrow registrations (io thread). */
  private void flushBorrowsNow() {
    Map<ByteString, BorrowBatch> batch;
    synchronized (borrowLock) {
      batch = pendingBorrows;
      pendingBorrows = new LinkedHashMap<>();
      borrowFlushScheduled = false;
    }
    for (BorrowBatch b : batch.values()) {
      CompletableFuture<Void> done = new CompletableFuture<>();
      synchronized (borrowLock) {
        borrowCalls.add(done);
      }
      try {
        CoreWorkerServiceGrpc.newStub(w.channels.get(b.owner))
            .withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, TimeUnit.SECONDS)
            .updateBorrows(UpdateBorrowsRequest.newBuilder().setBorrower(w.address).addAllAdded(b.added)
                .addAllRemoved(b.removed).build(), Rpcs.completing(done));
      } catch (RuntimeException e) {
        done.complete(null); // the owner is unreachable: nothing to keep alive there
      }
      done.whenComplete((x, t) -> {
        synchronized (borrowLock) {
          borrowCalls.remove(done);
        }
      });
    }
  }

  /**
   * Whether borrow registrations are queued or on their way to owners.
   *
   * @return true when {@link #flushBorrows} has something to wait for
   */
  public boolean hasPendingBorrows() {
    synchronized (borrowLock) {
      return borrowFlushScheduled || !pendingBorrows.isEmpty() || !borrowCalls.isEmpty();
    }
  }

  /**
   * Owned references leave inside a task's return value: they stay alive until the
   * caller registers as their borrower.
   *
   * @param nested the references found in the value
   */
  public void lend(List<io.polyray.runtime.proto.ObjectRef> nested) {
    List<ByteString> owned = new ArrayList<>();
    for (io.polyray.runtime.proto.ObjectRef r : nested) {
      if (r.getOwner().getWorkerId().equals(w.workerId)) {
        owned.add(r.getObjectId());
      }
    }
    if (!owned.isEmpty()) {
      w.references.addLent(owned);
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
    w.onIo(() -> {
      flushBorrowsNow();
      List<CompletableFuture<?>> calls;
      synchronized (borrowLock) {
        calls = new ArrayList<>(borrowCalls);
      }
      CompletableFuture.allOf(calls.toArray(new CompletableFuture<?>[0]))
          .whenComplete((x, t) -> flushed.complete(null));
    });
    try {
      flushed.get(timeoutMs, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // an owner that does not answer in time is treated as gone
    }
  }
}

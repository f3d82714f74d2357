package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.runtime.proto.Address;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * The raylet's pins of objects this process wrote into the node's store, sent in batches
 * (docs/ownership.md, "Pins").
 *
 * <p>A put writes and seals its object, takes a store pin of its own (a view) and hands it
 * here; the put returns at once. Queued ids go to the raylet in {@code PinObjects} calls of
 * at most {@code maxIds} ids (one owner per call), at most {@code maxInFlight} calls open:
 * ids queued while calls are open go out together in the next one. The put's own pin is
 * closed only once the raylet has answered, so the object cannot be evicted before the
 * raylet's pin. A free that reaches the raylet first is safe: the store hides an object
 * whose delete is pending, the raylet answers false, and our close completes the delete.
 *
 * <p>Invariants: every hold is closed exactly once (answer, failure or {@link #close});
 * at most {@code maxUnpinned} objects wait ({@link #add} blocks, bounded, beyond that);
 * the ids of one call share one owner; no lock is held while a call starts or a hold closes.
 */
final class StorePins {
  /** Starts one PinObjects call; {@code done} gets the pinned flags, or null when the call failed. */
  interface PinCall {
    void pin(List<ByteString> ids, Address owner, BiConsumer<List<Boolean>, Throwable> done);
  }

  private static final class Pending {
    final ByteString oid;
    final AutoCloseable hold;
    final Address owner;
    final CompletableFuture<Boolean> done;

    Pending(ByteString oid, AutoCloseable hold, Address owner, CompletableFuture<Boolean> done) {
      this.oid = oid;
      this.hold = hold;
      this.owner = owner;
      this.done = done;
    }
  }

  private final PinCall pin;
  private final int maxInFlight;
  private final int maxIds;
  private final int maxUnpinned;
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  private int inFlight;
  private int unpinned;
  private long callsSent;
  private boolean closed;

  StorePins(PinCall pin, int maxInFlight, int maxIds, int maxUnpinned) {
    this.pin = pin;
    this.maxInFlight = Math.max(1, maxInFlight);
    this.maxIds = Math.max(1, maxIds);
    this.maxUnpinned = maxUnpinned > 0 ? maxUnpinned : this.maxInFlight * this.maxIds;
  }

  /**
   * Queues the raylet's pin of sealed {@code oid}; {@code hold} (our pin) is closed once the
   * raylet answered.
   *
   * @param oid the object
   * @param hold this process's pin of it
   * @param owner the object's owner
   * @param roomWaitMs how long to wait while too many objects wait for their pins
   * @return completes with whether the raylet pinned the object
   * @throws IllegalStateException when no room came within {@code roomWaitMs}
   */
  CompletableFuture<Boolean> add(ByteString oid, AutoCloseable hold, Address owner, long roomWaitMs) {
    CompletableFuture<Boolean> done = new CompletableFuture<>();
    boolean refused = false;
    boolean dropped = false;
    synchronized (this) {
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(roomWaitMs);
      while (!closed && unpinned >= maxUnpinned) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          refused = true;
          break;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(this, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          refused = true;
          break;
        }
      }
      if (closed) {
        dropped = true;
      } else if (!refused) {
        unpinned++;
        queue.add(new Pending(oid, hold, owner, done));
      }
    }
    if (refused || dropped) {
      closeQuietly(hold);
      if (refused) {
        throw new IllegalStateException(maxUnpinned + " stored objects have waited " + roomWaitMs / 1000
            + " s for the raylet to pin them");
      }
      done.complete(false);
      return done;
    }
    pump();
    return done;
  }

  /** Objects queued or in calls. */
  synchronized int waiting() {
    return unpinned;
  }

  /** PinObjects calls started so far. */
  synchronized long callsSent() {
    return callsSent;
  }

  /**
   * Shutdown: queued objects are closed unpinned, later adds too; waits up to {@code waitMs}
   * for open calls to end.
   *
   * @param waitMs the bound on the wait
   */
  void close(long waitMs) {
    List<Pending> dropped;
    synchronized (this) {
      closed = true;
      dropped = new ArrayList<>(queue);
      queue.clear();
      unpinned -= dropped.size();
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
      while (inFlight > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(this, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      notifyAll();
    }
    for (Pending p : dropped) {
      closeQuietly(p.hold);
      p.done.complete(false);
    }
  }

  private void pump() {
    while (true) {
      List<Pending> batch = new ArrayList<>();
      Address owner;
      synchronized (this) {
        if (closed || queue.isEmpty() || inFlight >= maxInFlight) {
          return;
        }
        owner = queue.peekFirst().owner;
        Iterator<Pending> it = queue.iterator();
        while (it.hasNext() && batch.size() < maxIds) {
          Pending p = it.next();
          if (p.owner.getWorkerId().equals(owner.getWorkerId())) {
            batch.add(p);
            it.remove();
          }
        }
        inFlight++;
        callsSent++;
      }
      List<ByteString> ids = new ArrayList<>(batch.size());
      for (Pending p : batch) {
        ids.add(p.oid);
      }
      try {
        pin.pin(ids, owner, (pinned, error) -> finish(batch, pinned));
      } catch (RuntimeException e) {
        finish(batch, null); // the channel is gone (shutdown)
      }
    }
  }

  private void finish(List<Pending> batch, List<Boolean> pinned) {
    for (int i = 0; i < batch.size(); i++) {
      Pending p = batch.get(i);
      closeQuietly(p.hold); // our pin: the raylet's is in place (or the object was freed)
      p.done.complete(pinned != null && i < pinned.size() && pinned.get(i));
    }
    synchronized (this) {
      inFlight--;
      unpinned -= batch.size();
      notifyAll();
    }
    pump();
  }

  private static void closeQuietly(AutoCloseable hold) {
    try {
      hold.close();
    } catch (Exception e) {
      // a closed store dropped the pin already
    }
  }
}

package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.GetDeadWorkersReply;
import io.polyray.runtime.proto.GetDeadWorkersRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which owners of borrowed objects this process knows to be dead (issue 14, local reads; as
 * Python's core/owner_watch.py). A get of a borrowed object sealed in this node's store reads
 * the copy without asking the owner (docs/ownership.md, "Local reads") only while the owner is
 * not known dead. A death becomes known when a call to the owner failed with UNAVAILABLE
 * ({@link #markDead}), or from the watch: every owner read from locally is watched for
 * {@code idleMs} after its last local read, and while any is, one GetDeadWorkers call every
 * {@code intervalMs} asks the GCS which of them are dead (no grace round: a dead process never
 * comes back; worker ids are never reused, so a dead owner is remembered for good).
 *
 * <p>Invariants: {@link #note}, {@link #isDead} and {@link #markDead} are thread-safe and
 * cheap (concurrent maps); rounds run on the scheduler's (io) thread, at most one scheduled or
 * in flight, and only while some owner is watched; a GCS that does not answer changes nothing
 * (asked again next round); after {@link #close} nothing more is asked.
 */
final class OwnerWatch {
  /** An owner not read from locally for this long is no longer watched (Python's IDLE_S). */
  static final long IDLE_MS = 60_000;
  /** Owners named in one GetDeadWorkers call at most. */
  static final int MAX_PER_CALL = 10_000;

  private final IoScheduler scheduler;
  private final BorrowerWatch.DeadWorkers gcs;
  private final long intervalMs;
  private final long idleMs;
  private final Set<ByteString> dead = ConcurrentHashMap.newKeySet();
  /** worker id -> (address, nanoTime of its last local read). */
  private final Map<ByteString, Watched> watched = new ConcurrentHashMap<>();
  private volatile boolean running; // written on the io thread
  private volatile boolean closed;
  private int calls; // io thread

  private record Watched(Address address, long lastReadNs) {}

  OwnerWatch(IoScheduler scheduler, BorrowerWatch.DeadWorkers gcs, long intervalMs, long idleMs) {
    this.scheduler = scheduler;
    this.gcs = gcs;
    this.intervalMs = intervalMs;
    this.idleMs = idleMs;
  }

  /**
   * Whether a get may take a ref's value from a copy sealed in this node's store without its
   * owner's answer (the copy's presence is checked by the read): only a borrowed ref (an owner,
   * not this process) whose borrow is registered (this process decided its "added", so by the
   * order rule the owner keeps the object while the ref is held here) and whose owner is not
   * known dead.
   */
  static boolean readsLocally(boolean hasOwner, boolean owned, boolean registered, boolean ownerDead) {
    return hasOwner && !owned && registered && !ownerDead;
  }

  /** True once this process knows the owner {@code workerId} died (any thread). */
  boolean isDead(ByteString workerId) {
    return dead.contains(workerId);
  }

  /** The owner {@code workerId} is dead: a call to it found nothing listening (any thread). */
  void markDead(ByteString workerId) {
    dead.add(workerId);
    watched.remove(workerId);
  }

  /** {@code owner}'s object was read locally: watch it for idleMs more (any thread). */
  void note(Address owner) {
    ByteString wid = owner.getWorkerId();
    if (closed || dead.contains(wid)) {
      return;
    }
    watched.put(wid, new Watched(owner, scheduler.nanoTime()));
    if (!running) {
      scheduler.schedule(this::startOnIo, 0); // a stale false only schedules a start that finds it running
    }
  }

  /** The worker ids watched now (tests). */
  List<ByteString> watched() {
    return new ArrayList<>(watched.keySet());
  }

  /** GetDeadWorkers calls made (tests; io thread). */
  int calls() {
    return calls;
  }

  /** Stops: nothing more is asked. */
  void close() {
    closed = true;
  }

  private void startOnIo() {
    if (running || closed || watched.isEmpty()) {
      return;
    }
    running = true;
    next();
  }

  private void next() {
    if (closed || scheduler.schedule(this::round, intervalMs) == null) {
      running = false;
    }
  }

  private void round() {
    if (closed) {
      running = false;
      return;
    }
    long now = scheduler.nanoTime();
    watched.entrySet().removeIf(e -> now - e.getValue().lastReadNs() > idleMs * 1_000_000L);
    List<Address> asked = new ArrayList<>();
    for (Watched w : watched.values()) {
      asked.add(w.address());
    }
    if (asked.isEmpty()) {
      running = false; // the next note starts the watch again
      if (!watched.isEmpty()) {
        startOnIo(); // a note that came meanwhile saw running still true
      }
      return;
    }
    int parts = (asked.size() + MAX_PER_CALL - 1) / MAX_PER_CALL;
    int[] left = {parts};
    for (int i = 0; i < asked.size(); i += MAX_PER_CALL) {
      calls++;
      GetDeadWorkersRequest request = GetDeadWorkersRequest.newBuilder()
          .addAllWorkers(asked.subList(i, Math.min(asked.size(), i + MAX_PER_CALL))).build();
      gcs.ask(request, 5, new StreamObserver<>() {
        private boolean done;

        @Override
        public void onNext(GetDeadWorkersReply reply) {
          for (ByteString id : reply.getDeadWorkerIdsList()) {
            markDead(id);
          }
        }

        @Override
        public void onError(Throwable t) {
          finish(); // the GCS is away: ask again next round
        }

        @Override
        public void onCompleted() {
          finish();
        }

        private void finish() {
          if (!done) {
            done = true;
            if (--left[0] == 0) {
              next();
            }
          }
        }
      });
    }
  }
}

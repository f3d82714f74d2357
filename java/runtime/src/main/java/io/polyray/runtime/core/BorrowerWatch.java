package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.GetDeadWorkersReply;
import io.polyray.runtime.proto.GetDeadWorkersRequest;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Releases what dead processes borrowed or were lent here (as Python's
 * core/borrower_watch.py and C++'s borrower_watch.h).
 *
 * <p>An owner counts other processes' borrows and the lends made to callers
 * ({@link ReferenceCounter}). A process that dies never sends its removals or
 * acknowledgements, so, while the counter has any such holder, this watch asks the GCS every
 * {@code RuntimeSpec.BORROWERS_DEATH_WATCH_MS} which of them are dead (GetDeadWorkers: one
 * call naming every holder; no per-object calls) and calls {@link
 * ReferenceCounter#dropBorrower} for each one found dead in two consecutive rounds, which frees
 * what only it held (the second round is a grace for a live process's "added" still in flight
 * for a ref it got from the dead one). It runs
 * only while the counter has holders: the counter wakes it ({@link #start}) when its first
 * holder appears (docs/ownership.md, "The reference protocol", Deaths).
 *
 * <p>Invariants: everything but {@link #start} runs on the scheduler's (io) thread, and
 * {@code start} hands over to it, so a round that finds no holders and a start are ordered;
 * at most one round is scheduled or in flight; after {@link #close} nothing more is asked.
 */
final class BorrowerWatch {
  /** The GCS's GetDeadWorkers; replies on the io thread. */
  interface DeadWorkers {
    void ask(GetDeadWorkersRequest request, long deadlineS, StreamObserver<GetDeadWorkersReply> reply);
  }

  private final ReferenceCounter references;
  private final IoScheduler scheduler;
  private final DeadWorkers gcs;
  private final ByteString selfId;
  private final long intervalMs;
  private boolean running;
  private volatile boolean closed;
  private int calls;
  private Set<ByteString> suspects = new HashSet<>(); // found dead in the last round

  BorrowerWatch(ReferenceCounter references, IoScheduler scheduler, DeadWorkers gcs, ByteString selfId,
      long intervalMs) {
    this.references = references;
    this.scheduler = scheduler;
    this.gcs = gcs;
    this.selfId = selfId;
    this.intervalMs = intervalMs;
  }

  /** Begins watching unless already watching (any thread). */
  void start() {
    scheduler.schedule(this::startOnIo, 0);
  }

  private void startOnIo() {
    if (running || closed) {
      return;
    }
    running = true;
    next();
  }

  /** Stops: nothing more is asked. */
  void close() {
    closed = true;
  }

  /** GetDeadWorkers calls made (tests; io thread). */
  int calls() {
    return calls;
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
    List<Address> holders = references.holders();
    if (holders.isEmpty()) {
      running = false; // the counter starts the watch again with its next holder
      return;
    }
    GetDeadWorkersRequest.Builder request = GetDeadWorkersRequest.newBuilder();
    for (Address a : holders) {
      if (!a.getWorkerId().equals(selfId)) {
        request.addWorkers(a);
      }
    }
    if (request.getWorkersCount() == 0) {
      next(); // only this process holds: nothing to ask
      return;
    }
    calls++;
    gcs.ask(request.build(), 5, new StreamObserver<>() {
      @Override
      public void onNext(GetDeadWorkersReply reply) {
        if (closed) {
          return;
        }
        Set<ByteString> next = new HashSet<>();
        for (ByteString id : reply.getDeadWorkerIdsList()) {
          if (suspects.contains(id)) {
            references.dropBorrower(id);
          } else {
            next.add(id);
          }
        }
        suspects = next;
      }

      @Override
      public void onError(Throwable t) {
        next(); // the GCS is away (or older): ask again next round
      }

      @Override
      public void onCompleted() {
        next();
      }
    });
  }
}

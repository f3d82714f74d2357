package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.proto.ActorInfo;
import io.polyray.runtime.proto.ActorState;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.GetActorInfoReply;
import io.polyray.runtime.proto.GetActorInfoRequest;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.spec.Policies;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * Submits actor method calls (docs/protocol.md §7.2; as
 * python/polyray/core/actor_submitter.py): one ordered PushTasks stream per actor, opened
 * once the GCS reports the actor ALIVE ({@code GetActorInfo} with
 * {@code wait_for_change}, repeated every {@value #ACTOR_WATCH_S} s while it starts).
 * Calls made before that, or while the actor restarts, wait in order and spend no retry.
 * When a stream breaks, each call in flight is decided by the spec's policy "actor_call"
 * ({@link Policies#actorCall}): resubmitted to the next incarnation (attempt + 1, in
 * sequence order, ahead of the waiting calls) while its {@code max_task_retries} allows
 * (-1 forever), else failed with ACTOR_DIED. Once the actor is DEAD, every pending and
 * later call fails with ACTOR_DIED carrying the death cause and its reason.
 *
 * <p>Invariants: confined to one thread (the io thread; the test's in unit tests); one
 * caller's calls to an actor leave in submission order, on one stream at a time; a call is
 * in exactly one place (the actor's pending queue, its in-flight table, or finished
 * through the {@link TaskFinisher}). It meets the rest of the process only through its
 * constructor's interfaces.
 */
final class ActorTaskSubmitter {
  static final long ACTOR_WATCH_S = 30;
  /** Checks of an actor's state after its stream broke, {@value #FINAL_STATE_CHECK_S} s each. */
  static final int FINAL_STATE_ATTEMPTS = 60;
  static final long FINAL_STATE_CHECK_S = 5;

  private static final class ActorQueue {
    final ByteString actorId;
    ActorState state = ActorState.PENDING_CREATION;
    Address address;
    ErrorRecord death;
    final ArrayDeque<PendingTask> pending = new ArrayDeque<>();
    final Map<ByteString, PendingTask> inflight = new LinkedHashMap<>();
    StreamObserver<PushTasksRequest> requests;
    int generation;
    boolean watching;
    /** From a stream break until its calls in flight are requeued: only that path connects. */
    boolean recovering;
    final List<List<ByteString>> creationArgs = new ArrayList<>();
    /** Calls held (in submission order) until their own and every earlier call's arguments are ready. */
    final ArrayDeque<PendingTask> unresolved = new ArrayDeque<>();
    /** The task ids of unresolved calls whose arguments are not ready yet. */
    final Set<ByteString> waiting = new HashSet<>();

    ActorQueue(ByteString actorId) {
      this.actorId = actorId;
    }
  }

  private final ActorDirectory gcs;
  private final PushStreams streams;
  private final TaskFinisher finisher;
  private final IoScheduler scheduler;
  private final BooleanSupplier shuttingDown;
  private final Map<ByteString, ActorQueue> actors = new HashMap<>();
  private boolean closed;
  private ArgResolver resolver;

  /**
   * Resolves a call's argument refs before it enters the actor's stream (as Ray's caller-side
   * dependency resolution, and Python's ActorTaskSubmitter): {@code resolve(t, onReady)} says
   * whether {@code t} must wait, and then runs {@code onReady} on the io thread, once, when its
   * top-level ref arguments (owned here or borrowed) are ready (value or error).
   */
  interface ArgResolver {
    boolean resolve(PendingTask t, Runnable onReady);
  }

  /** Installs the argument resolver (io thread; TaskSubmission does, before its first actor call). */
  void setResolver(ArgResolver resolver) {
    this.resolver = resolver;
  }

  boolean hasResolver() {
    return resolver != null;
  }

  /**
   * A submitter.
   *
   * @param gcs where actor states come from
   * @param streams opens the PushTasks stream of an actor
   * @param finisher gets each call's end
   * @param scheduler timers of the io thread
   * @param shuttingDown true once the process shuts down
   */
  ActorTaskSubmitter(ActorDirectory gcs, PushStreams streams, TaskFinisher finisher, IoScheduler scheduler,
      BooleanSupplier shuttingDown) {
    this.gcs = gcs;
    this.streams = streams;
    this.finisher = finisher;
    this.scheduler = scheduler;
    this.shuttingDown = shuttingDown;
  }

  private ActorQueue queue(ByteString actorId) {
    return actors.computeIfAbsent(actorId, ActorQueue::new);
  }

  /** Follows an actor this process created: its creation arguments live until it is up or dead. */
  void watchCreation(ByteString actorId, List<ByteString> argIds) {
    ActorQueue aq = queue(actorId);
    if (aq.state == ActorState.DEAD || aq.state == ActorState.ALIVE) {
      finisher.releaseArgs(argIds);
      return;
    }
    aq.creationArgs.add(argIds);
    watch(aq);
  }

  /** Queues one call (in sequence order: calls arrive here in submission order). */
  void submit(PendingTask t) {
    submitAll(List.of(t));
  }

  /**
   * Queues calls, in order (in sequence order per actor); the calls to a live actor
   * leave in one PushTasks message per actor.
   */
  void submitAll(List<PendingTask> tasks) {
    List<PendingTask> go = new ArrayList<>(tasks.size());
    for (PendingTask t : tasks) {
      ActorQueue aq = queue(t.spec.getActorId());
      ByteString id = t.spec.getTaskId();
      if (resolver != null && !t.argIds.isEmpty() && aq.state != ActorState.DEAD && !closed
          && resolver.resolve(t, () -> argsReady(aq, t))) {
        aq.waiting.add(id);
      }
      if (!aq.unresolved.isEmpty() || aq.waiting.contains(id)) {
        // This caller's later calls wait behind a call whose arguments are not ready (submission order).
        aq.unresolved.add(t);
        if (aq.state != ActorState.ALIVE && !aq.recovering) {
          watch(aq); // the stream is ready by the time the arguments are
        }
        continue;
      }
      go.add(t);
    }
    enqueue(go);
  }

  /** (Io thread.) {@code t}'s arguments are ready: send the held calls at the head that wait for nothing. */
  private void argsReady(ActorQueue aq, PendingTask t) {
    aq.waiting.remove(t.spec.getTaskId());
    List<PendingTask> go = new ArrayList<>();
    while (!aq.unresolved.isEmpty() && !aq.waiting.contains(aq.unresolved.peekFirst().spec.getTaskId())) {
      go.add(aq.unresolved.pollFirst());
    }
    if (!go.isEmpty()) {
      enqueue(go);
    }
  }

  /**
   * Whether a call of this caller is not finished yet.
   *
   * @param taskId the call
   * @return true while it waits here or is in flight
   */
  boolean knows(ByteString taskId) {
    for (ActorQueue aq : actors.values()) {
      if (aq.inflight.containsKey(taskId)) {
        return true;
      }
      for (PendingTask t : aq.unresolved) {
        if (t.taskId().equals(taskId)) {
          return true;
        }
      }
      for (PendingTask t : aq.pending) {
        if (t.taskId().equals(taskId)) {
          return true;
        }
      }
    }
    return false;
  }

  /** What {@link #cancel} found. */
  static final Object NOT_FOUND = new Object();

  /**
   * Cancels a call of this caller (as actor_submitter.py's cancel): one not sent yet (waiting
   * for its arguments or for the actor) fails with TASK_CANCELLED now and the calls held behind
   * it go on in order; for one sent, the actor's address is returned (the caller asks the
   * actor: a call queued there never runs, a running one is interrupted).
   *
   * @param taskId the call
   * @return null (dropped here), the actor's {@link Address}, or {@link #NOT_FOUND}
   */
  Object cancel(ByteString taskId) {
    for (ActorQueue aq : actors.values()) {
      for (ArrayDeque<PendingTask> waiting : List.of(aq.unresolved, aq.pending)) {
        for (PendingTask t : waiting) {
          if (t.taskId().equals(taskId)) {
            waiting.remove(t);
            aq.waiting.remove(taskId);
            t.cancelled = true;
            finisher.fail(t.spec, ErrorRecords.system(ErrorKind.TASK_CANCELLED, "task " + t.spec.getName()
                + " was cancelled before it ran"), t.argIds);
            List<PendingTask> go = new ArrayList<>();
            while (!aq.unresolved.isEmpty() && !aq.waiting.contains(aq.unresolved.peekFirst().taskId())) {
              go.add(aq.unresolved.pollFirst());
            }
            if (!go.isEmpty()) {
              enqueue(go);
            }
            return null;
          }
        }
      }
      if (aq.inflight.containsKey(taskId) && aq.address != null) {
        return aq.address;
      }
    }
    return NOT_FOUND;
  }

  private void enqueue(List<PendingTask> tasks) {
    Map<ActorQueue, List<PendingTask>> out = null;
    for (PendingTask t : tasks) {
      ActorQueue aq = queue(t.spec.getActorId());
      if (aq.state == ActorState.DEAD) {
        finisher.fail(t.spec, died(aq, t.spec), t.argIds);
        continue;
      }
      if (closed) {
        finisher.fail(t.spec, ErrorRecords.system(ErrorKind.ACTOR_DIED, "the polyray runtime is shutting down"),
            t.argIds);
        continue;
      }
      if (aq.state == ActorState.ALIVE) {
        if (out == null) {
          out = new LinkedHashMap<>();
        }
        out.computeIfAbsent(aq, k -> new ArrayList<>()).add(t);
      } else {
        aq.pending.add(t);
        if (!aq.recovering) {
          watch(aq);
        }
      }
    }
    if (out != null) {
      for (Map.Entry<ActorQueue, List<PendingTask>> e : out.entrySet()) {
        ActorQueue aq = e.getKey();
        if (aq.requests == null) {
          openStream(aq);
        }
        push(aq, e.getValue());
      }
    }
  }

  private ErrorRecord died(ActorQueue aq, TaskSpec spec) {
    ErrorRecord cause = aq.death;
    String msg = "the actor " + Hex.of(aq.actorId.toByteArray()) + " died before it could run " + spec.getName();
    ErrorRecord.Builder b = ErrorRecords.system(ErrorKind.ACTOR_DIED, msg).toBuilder();
    if (cause != null && cause.getKind() == ErrorKind.ACTOR_DIED) {
      b.setMessage(cause.getMessage().isEmpty() ? msg : cause.getMessage());
      if (cause.hasCause()) {
        b.setCause(cause.getCause());
      }
      b.setReason(cause.getReason()).setExitCode(cause.getExitCode());
    } else if (cause != null) {
      b.setCause(cause);
    }
    return b.build();
  }

  private void watch(ActorQueue aq) {
    if (!aq.watching && !closed) {
      aq.watching = true;
      watchOnce(aq, aq.state);
    }
  }

  private void watchOnce(ActorQueue aq, ActorState known) {
    if (closed || shuttingDown.getAsBoolean()) {
      aq.watching = false;
      return;
    }
    GetActorInfoRequest req = GetActorInfoRequest.newBuilder().setActorId(aq.actorId).setWaitForChange(true)
        .setKnownState(known).build();
    gcs.getActorInfo(req, ACTOR_WATCH_S, new StreamObserver<GetActorInfoReply>() {
      private ActorInfo info;

      @Override
      public void onNext(GetActorInfoReply reply) {
        info = reply.getActor();
      }

      @Override
      public void onError(Throwable t) {
        Status.Code code = Status.fromThrowable(t).getCode();
        if (code == Status.Code.DEADLINE_EXCEEDED) {
          watchOnce(aq, known); // still starting: wait again
        } else if (code == Status.Code.NOT_FOUND) {
          aq.watching = false;
          markDead(aq, ErrorRecords.system(ErrorKind.ACTOR_DIED, "the GCS does not know actor "
              + Hex.of(aq.actorId.toByteArray())), List.of());
        } else {
          later(() -> watchOnce(aq, known), 500);
        }
      }

      @Override
      public void onCompleted() {
        if (info == null) {
          later(() -> watchOnce(aq, known), 500);
          return;
        }
        if (info.getState() == ActorState.DEAD) {
          aq.watching = false;
          markDead(aq, info.hasDeathCause() ? info.getDeathCause() : null, List.of());
        } else if (info.getState() == ActorState.ALIVE) {
          aq.watching = false;
          if (!aq.recovering) {
            alive(aq, info.getAddress());
          }
        } else {
          aq.state = info.getState();
          watchOnce(aq, info.getState());
        }
      }
    });
  }

  private void later(Runnable r, long ms) {
    scheduler.schedule(r, ms); // dropped when shut down
  }

  private void releaseCreationArgs(ActorQueue aq) {
    for (List<ByteString> ids : aq.creationArgs) {
      finisher.releaseArgs(ids);
    }
    aq.creationArgs.clear();
  }

  private void alive(ActorQueue aq, Address address) {
    aq.state = ActorState.ALIVE;
    aq.address = address;
    releaseCreationArgs(aq);
    if (!aq.pending.isEmpty()) {
      openStream(aq);
      List<PendingTask> batch = new ArrayList<>(aq.pending);
      aq.pending.clear();
      push(aq, batch);
    }
  }

  private void openStream(ActorQueue aq) {
    int gen = ++aq.generation;
    // Over the actor's push port when it offers one, else gRPC (Channels.pushTasks). No
    // deadline: calls may run for a long time; a dead actor's socket closes, which ends
    // the stream at once.
    aq.requests = streams.open(aq.address, new StreamObserver<PushTasksReply>() {
      @Override
      public void onNext(PushTasksReply reply) {
        for (TaskResult r : reply.getResultsList()) {
          if (r.getGeneratorItem() > 0) { // an item of a generator call still running
            PendingTask running = aq.inflight.get(r.getTaskId());
            if (running != null && r.getReturnsCount() > 0) {
              finisher.generatorItem(running.spec, r.getReturns(0), r.getGeneratorItem());
            }
            continue;
          }
          PendingTask t = aq.inflight.remove(r.getTaskId());
          if (t != null) {
            finisher.complete(t.spec, r.getReturnsList(), t.argIds);
          }
        }
      }

      @Override
      public void onError(Throwable t) {
        broken(aq, gen);
      }

      @Override
      public void onCompleted() {
        broken(aq, gen);
      }
    });
  }

  private void push(ActorQueue aq, List<PendingTask> batch) {
    PushTasksRequest.Builder req = PushTasksRequest.newBuilder();
    for (PendingTask t : batch) {
      aq.inflight.put(t.taskId(), t);
      req.addTasks(t.spec);
    }
    try {
      aq.requests.onNext(req.build());
    } catch (RuntimeException e) {
      // broken already: its observer fails these calls
    }
  }

  /** The actor's stream ended: its process is gone (or going). */
  private void broken(ActorQueue aq, int gen) {
    if (gen != aq.generation || closed || shuttingDown.getAsBoolean()) {
      return;
    }
    aq.generation++;
    aq.requests = null;
    List<PendingTask> inflight = new ArrayList<>(aq.inflight.values());
    inflight.sort(Comparator.comparingLong(t -> t.spec.getSequenceNo()));
    aq.inflight.clear();
    for (PendingTask t : inflight) { // the actor may have handed an argument on before it died
      if (!t.argIds.isEmpty()) {
        List<ByteString> ids = new ArrayList<>(t.argIds);
        finisher.holdArgs(ids);
        if (scheduler.schedule(() -> finisher.releaseArgs(ids), TaskFinisher.ARGS_GRACE_MS) == null) {
          finisher.releaseArgs(ids);
        }
      }
    }
    Address was = aq.address;
    aq.state = ActorState.RESTARTING;
    aq.recovering = true;
    finalState(aq, was, inflight, 0);
  }

  private void finalState(ActorQueue aq, Address was, List<PendingTask> inflight, int attempt) {
    if (attempt >= FINAL_STATE_ATTEMPTS || closed || shuttingDown.getAsBoolean()) {
      aq.recovering = false;
      markDead(aq, ErrorRecords.system(ErrorKind.ACTOR_DIED, "lost contact with actor "
          + Hex.of(aq.actorId.toByteArray())), inflight);
      return;
    }
    GetActorInfoRequest req = GetActorInfoRequest.newBuilder().setActorId(aq.actorId).setWaitForChange(true)
        .setKnownState(ActorState.ALIVE).build();
    gcs.getActorInfo(req, FINAL_STATE_CHECK_S, new StreamObserver<GetActorInfoReply>() {
      private ActorInfo info;

      @Override
      public void onNext(GetActorInfoReply reply) {
        info = reply.getActor();
      }

      @Override
      public void onError(Throwable t) {
        Status.Code code = Status.fromThrowable(t).getCode();
        if (code == Status.Code.DEADLINE_EXCEEDED) {
          finalState(aq, was, inflight, attempt + 1);
        } else {
          aq.recovering = false;
          markDead(aq, ErrorRecords.system(ErrorKind.ACTOR_DIED, "lost contact with actor "
              + Hex.of(aq.actorId.toByteArray()) + " (" + code + ")"), inflight);
        }
      }

      @Override
      public void onCompleted() {
        if (info == null) {
          finalState(aq, was, inflight, attempt + 1);
          return;
        }
        if (info.getState() == ActorState.ALIVE && was != null && info.getAddress().getPort() == was.getPort()) {
          finalState(aq, was, inflight, attempt + 1); // the GCS has not seen the death yet
          return;
        }
        aq.recovering = false;
        ErrorRecord cause = info.hasDeathCause() ? info.getDeathCause() : null;
        if (info.getState() == ActorState.DEAD) {
          markDead(aq, cause, inflight);
          return;
        }
        ErrorRecord last = info.hasLastDeathCause() ? info.getLastDeathCause() : cause;
        List<PendingTask> retry = new ArrayList<>();
        for (PendingTask t : inflight) {
          TaskSpec spec = t.spec;
          if (Policies.actorCall(true, "RESTARTING", spec.getMaxTaskRetries(), spec.getAttempt())
              == Policies.ActorCallDecision.RETRY) {
            t.spec = spec.toBuilder().setAttempt(spec.getAttempt() + 1).build();
            finisher.retried(t.spec);
            retry.add(t);
            continue;
          }
          ErrorRecord.Builder r = ErrorRecords.system(ErrorKind.ACTOR_DIED, "the actor "
              + Hex.of(aq.actorId.toByteArray()) + " died while running " + spec.getName() + " (attempt "
              + spec.getAttempt() + ", max_task_retries=" + spec.getMaxTaskRetries() + "); it is restarting")
              .toBuilder();
          if (last != null) {
            r.setCause(last).setReason(last.getReason()).setExitCode(last.getExitCode());
          }
          finisher.fail(t.spec, r.build(), t.argIds);
        }
        // Retried calls go first: they were sent before anything still waiting.
        for (int i = retry.size() - 1; i >= 0; i--) {
          aq.pending.addFirst(retry.get(i));
        }
        if (info.getState() == ActorState.ALIVE) {
          alive(aq, info.getAddress());
        } else {
          aq.state = info.getState();
          watch(aq);
        }
      }
    });
  }

  private void markDead(ActorQueue aq, ErrorRecord cause, List<PendingTask> extra) {
    aq.state = ActorState.DEAD;
    aq.death = cause;
    releaseCreationArgs(aq);
    List<PendingTask> failed = new ArrayList<>(extra);
    failed.addAll(aq.pending);
    failed.addAll(aq.inflight.values());
    failed.addAll(aq.unresolved);
    aq.unresolved.clear();
    aq.waiting.clear();
    aq.pending.clear();
    aq.inflight.clear();
    for (PendingTask t : failed) {
      finisher.fail(t.spec, died(aq, t.spec), t.argIds);
    }
  }

  /** Closes every actor stream (shutdown). */
  void close() {
    closed = true;
    for (ActorQueue aq : actors.values()) {
      if (aq.requests != null) {
        try {
          aq.requests.onCompleted(); // half-close: the actor finishes what it has, then ends the stream
        } catch (RuntimeException e) {
          // already closed
        }
        aq.requests = null;
      }
    }
  }
}

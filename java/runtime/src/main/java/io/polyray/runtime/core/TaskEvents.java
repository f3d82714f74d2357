package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.AddTaskEventsReply;
import io.polyray.runtime.proto.AddTaskEventsRequest;
import io.polyray.runtime.proto.DroppedTaskEvents;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskEvent;
import io.polyray.runtime.proto.TaskEventState;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * This process's task events until they reach the GCS (as Python's core/task_events.py and
 * C++'s task_events.h; docs/observability.md).
 *
 * <p>Every event carries the owner's times its spec holds ({@code TaskSpec.submitted_ns},
 * {@code pending_args_ns}, {@code pending_node_ns}: a Python owner writes them there and
 * reports no event of a task that runs, so the worker's event gives the whole row).
 *
 * <p>An owner writes its times into the spec it pushes ({@link #ownerQueued}) and records no
 * event of a task whose result comes back ({@link #ownerDone}); a flush reports PENDING_NODE,
 * once, for a task that has waited a whole interval. It records PENDING_NODE for a retry's new
 * attempt, and FAILED for a
 * failure the owner decides. The worker that runs an attempt records RUNNING, then FINISHED
 * or FAILED, folded into the RUNNING event while that is not sent ({@link #ended}): a task
 * that ends within a flush interval costs one event per reporter. Recording adds one small
 * object to a lock-free
 * queue (no protobuf built); the io thread sends what is queued every {@code
 * EVENTS_FLUSH_INTERVAL_MS} with AddTaskEvents, {@code EVENTS_MAX_PER_BATCH} per call, and
 * once more at shutdown. At most {@code EVENTS_MAX_BUFFERED_PER_PROCESS} events wait; past
 * that new ones are dropped and counted per job (the count goes with the next batch).
 * {@code POLYRAY_TASK_EVENTS=0} turns it off.
 */
public final class TaskEvents {
  /** Sends one batch; replies on any thread. */
  public interface Sink {
    void send(AddTaskEventsRequest request, StreamObserver<AddTaskEventsReply> reply);
  }

  /**
   * One event waiting to be sent. A later state of the same attempt recorded by this process
   * folds into it ({@link #advance}) while it is not taken by a flush: the earlier state goes
   * to {@code prior}, so a task that ends within a flush interval costs one event per
   * reporter (owner: SUBMITTED + PENDING_NODE; worker: RUNNING + FINISHED/FAILED).
   */
  public static final class Item {
    TaskEventState state;
    long timeNs;
    final TaskSpec spec;
    final int attempt;
    ErrorKind kind;
    String message;
    TaskEventState prior;
    long priorNs;
    boolean taken;

    Item(TaskEventState state, long timeNs, TaskSpec spec, int attempt, ErrorKind kind, String message) {
      this.state = state;
      this.timeNs = timeNs;
      this.spec = spec;
      this.attempt = attempt;
      this.kind = kind;
      this.message = message;
    }
  }

  private static final int MAX_MESSAGE_CHARS = (int) (RuntimeSpec.LIMITS_MAX_NAME_BYTES / 4);

  private final ConcurrentLinkedQueue<Item> events = new ConcurrentLinkedQueue<>();
  private final AtomicInteger size = new AtomicInteger();
  private final Map<ByteString, AtomicLong> dropped = new ConcurrentHashMap<>();
  private final java.util.function.Supplier<ByteString> nodeId;
  private final ByteString workerId;
  private final int pid;
  private final Sink sink;
  private final int maxBuffered;
  private final int maxPerBatch;
  private volatile boolean closed;
  private ScheduledFuture<?> timer;
  private final AtomicLong sent = new AtomicLong();

  /** Whether this process records task events ({@code POLYRAY_TASK_EVENTS}, default on). */
  public static boolean enabled() {
    return !"0".equals(System.getenv("POLYRAY_TASK_EVENTS"));
  }

  public TaskEvents(java.util.function.Supplier<ByteString> nodeId, ByteString workerId, Sink sink, int maxBuffered, int maxPerBatch) {
    this.nodeId = nodeId;
    this.workerId = workerId;
    this.pid = (int) ProcessHandle.current().pid();
    this.sink = sink;
    this.maxBuffered = maxBuffered;
    this.maxPerBatch = maxPerBatch;
  }

  /** Sends every flush interval on {@code loop} until closed. */
  public synchronized void start(ScheduledExecutorService loop) {
    if (timer == null && !closed) {
      long ms = RuntimeSpec.EVENTS_FLUSH_INTERVAL_MS;
      timer = loop.scheduleWithFixedDelay(this::flush, ms, ms, TimeUnit.MILLISECONDS);
    }
  }

  /** The wall clock in ns, as events carry it (for {@link #queued}'s submit time). */
  public static long nowNs() {
    java.time.Instant t = java.time.Instant.now();
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  /** Records one event of {@code spec} at its current attempt; the item, or null when dropped. */
  public Item record(TaskEventState state, TaskSpec spec) {
    return add(state, spec, spec.getAttempt(), ErrorKind.TASK_ERROR, "", null, 0);
  }

  /** (Owner.) Tasks queued here whose result has not come back, oldest first: task id -> spec. */
  private final java.util.LinkedHashMap<ByteString, TaskSpec> pending = new java.util.LinkedHashMap<>();

  /**
   * (Owner, the io thread.) The task is queued for a lease or its actor: returns the spec with
   * the owner's times in it ({@code submitted_ns}, {@code pending_node_ns}), to be pushed in its
   * place; the worker's event carries them, so no event is recorded unless the task still waits
   * a whole flush interval later (then PENDING_NODE, once, at a flush).
   */
  public TaskSpec ownerQueued(TaskSpec spec, long submittedNs) {
    TaskSpec timed = spec.toBuilder().setSubmittedNs(submittedNs).setPendingNodeNs(nowNs()).build();
    synchronized (pending) {
      pending.put(timed.getTaskId(), timed);
    }
    return timed;
  }

  /** (Owner.) The result came back: the worker's event gives the row. */
  public void ownerDone(TaskSpec spec) {
    synchronized (pending) {
      pending.remove(spec.getTaskId());
    }
  }

  /** Tasks queued here whose event is not recorded (the worker's will carry their times). */
  public int pending() {
    synchronized (pending) {
      return pending.size();
    }
  }

  /** (At a flush.) PENDING_NODE for each task queued at least {@code intervalNs} ago and not done, once. */
  void takePending(long nowNs, long intervalNs) {
    List<TaskSpec> taken = new java.util.ArrayList<>();
    synchronized (pending) {
      var it = pending.values().iterator();
      while (it.hasNext()) {
        TaskSpec s = it.next();
        if (s.getPendingNodeNs() > nowNs - intervalNs) {
          break;
        }
        taken.add(s);
        it.remove();
      }
    }
    for (TaskSpec s : taken) {
      Item item = add(TaskEventState.PENDING_NODE, s, s.getAttempt(), ErrorKind.TASK_ERROR, "", null, 0);
      if (item != null) {
        item.timeNs = s.getPendingNodeNs();
      }
    }
  }

  /** (The io thread.) PENDING_NODE with SUBMITTED at {@code submittedNs} folded in: one event for both. */
  public void queued(TaskSpec spec, long submittedNs) {
    add(TaskEventState.PENDING_NODE, spec, spec.getAttempt(), ErrorKind.TASK_ERROR, "", TaskEventState.SUBMITTED,
        submittedNs);
  }

  /** RUNNING; the item, for {@link #ended} to fold the end state into while it is not sent. */
  public Item running(TaskSpec spec) {
    return record(TaskEventState.RUNNING, spec);
  }

  private Item add(TaskEventState state, TaskSpec spec, int attempt, ErrorKind kind, String message,
      TaskEventState prior, long priorNs) {
    if (size.get() >= maxBuffered) {
      dropped.computeIfAbsent(spec.getJobId(), k -> new AtomicLong()).incrementAndGet();
      return null;
    }
    size.incrementAndGet();
    Item item = new Item(state, nowNs(), spec, attempt, kind, message);
    if (prior != null) {
      item.prior = prior;
      item.priorNs = priorNs;
    }
    events.add(item);
    return item;
  }

  /**
   * A later state of {@code earlier}'s attempt: folded into it (its state becomes the prior
   * one) when it is not sent yet and holds one state only; else a new event.
   */
  private void advance(Item earlier, TaskEventState state, TaskSpec spec, ErrorKind kind, String message) {
    if (earlier != null) {
      synchronized (earlier) {
        if (!earlier.taken && earlier.prior == null) {
          earlier.prior = earlier.state;
          earlier.priorNs = earlier.timeNs;
          earlier.state = state;
          earlier.timeNs = nowNs();
          earlier.kind = kind;
          earlier.message = message;
          return;
        }
      }
    }
    add(state, spec, spec.getAttempt(), kind, message, null, 0);
  }

  private static String message(ErrorRecord record) {
    String m = record.getMessage().isEmpty() ? record.getTypeName()
        : (record.getTypeName().isEmpty() ? record.getMessage() : record.getTypeName() + ": " + record.getMessage());
    return m.length() > MAX_MESSAGE_CHARS ? m.substring(0, MAX_MESSAGE_CHARS) : m;
  }

  /** The attempt failed with {@code record} (the owner decided: no worker's answer). */
  public void failed(TaskSpec spec, ErrorRecord record) {
    add(TaskEventState.FAILED, spec, spec.getAttempt(), record.getKind(), message(record), null, 0);
  }

  /** The attempt ran here: FINISHED, or FAILED when a return carries an error. */
  public void ended(TaskSpec spec, List<ReturnObject> returns) {
    ended(spec, returns, null);
  }

  /**
   * The attempt ran here: FINISHED, or FAILED when a return carries an error; folded into
   * {@code running} (from {@link #running}) when that is not sent yet.
   */
  public void ended(TaskSpec spec, List<ReturnObject> returns, Item running) {
    for (ReturnObject r : returns) {
      if (r.hasValue() && r.getValue().getFormat() == Format.FORMAT_ERROR) {
        ErrorRecord rec;
        try {
          rec = ErrorRecord.parseFrom(r.getValue().getBody());
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          rec = ErrorRecord.newBuilder().setKind(ErrorKind.RUNTIME_ERROR).build();
        }
        advance(running, TaskEventState.FAILED, spec, rec.getKind(), message(rec));
        return;
      }
      break;
    }
    advance(running, TaskEventState.FINISHED, spec, ErrorKind.TASK_ERROR, "");
  }

  /** Events waiting to be sent. */
  public int buffered() {
    return size.get();
  }

  /** Events the GCS took. */
  public long sent() {
    return sent.get();
  }

  /** The event's message; marks the item taken, so nothing folds into it any more. */
  private TaskEvent toProto(Item i) {
    synchronized (i) {
      i.taken = true;
      TaskEvent.Builder b = TaskEvent.newBuilder().setTaskId(i.spec.getTaskId()).setJobId(i.spec.getJobId())
          .setAttempt(i.attempt).setState(i.state).setLanguage(i.spec.getLanguage()).setType(i.spec.getType())
          .setName(i.spec.getName()).setActorId(i.spec.getActorId()).setParentTaskId(i.spec.getParentTaskId())
          .setNodeId(nodeId.get()).setWorkerId(workerId).setTimestampNs(i.timeNs).setWorkerPid(pid)
          // The owner's times of the attempt the spec carries (0: not known), so a worker's
          // event gives the whole row when its owner reports none (a Python owner).
          .setSubmittedNs(i.spec.getSubmittedNs()).setPendingArgsNs(i.spec.getPendingArgsNs())
          .setPendingNodeNs(i.spec.getPendingNodeNs());
      if (i.prior != null) {
        b.setPriorState(i.prior).setPriorTimestampNs(i.priorNs);
      }
      if (i.state == TaskEventState.FAILED) {
        b.setErrorKind(i.kind).setErrorMessage(i.message);
      }
      return b.build();
    }
  }

  private final java.util.concurrent.atomic.AtomicBoolean inFlight = new java.util.concurrent.atomic.AtomicBoolean();

  /** Sends what is queued now (one batch at a time, never blocking); the future ends with the last batch. */
  public java.util.concurrent.CompletableFuture<Void> flush() {
    takePending(nowNs(), RuntimeSpec.EVENTS_FLUSH_INTERVAL_MS * 1_000_000L);
    java.util.concurrent.CompletableFuture<Void> all = new java.util.concurrent.CompletableFuture<>();
    if (!inFlight.compareAndSet(false, true)) {
      all.complete(null); // a flush is on its way; it takes what is queued
      return all;
    }
    sendNext(all);
    return all;
  }

  private void sendNext(java.util.concurrent.CompletableFuture<Void> all) {
    AddTaskEventsRequest.Builder req = AddTaskEventsRequest.newBuilder();
    for (Item i; req.getEventsCount() < maxPerBatch && (i = events.poll()) != null; ) {
      size.decrementAndGet();
      req.addEvents(toProto(i));
    }
    Map<ByteString, Long> drops = new HashMap<>();
    for (Map.Entry<ByteString, AtomicLong> e : dropped.entrySet()) {
      long n = e.getValue().getAndSet(0);
      if (n > 0) {
        drops.put(e.getKey(), n);
        req.addDropped(DroppedTaskEvents.newBuilder().setJobId(e.getKey()).setCount(n));
      }
    }
    int n = req.getEventsCount();
    if (n == 0 && drops.isEmpty()) {
      inFlight.set(false);
      all.complete(null);
      return;
    }
    AddTaskEventsRequest built = req.build();
    StreamObserver<AddTaskEventsReply> reply = new StreamObserver<>() {
      @Override
      public void onNext(AddTaskEventsReply value) {}

      @Override
      public void onError(Throwable t) {
        for (TaskEvent e : built.getEventsList()) {
          dropped.computeIfAbsent(e.getJobId(), k -> new AtomicLong()).incrementAndGet();
        }
        for (Map.Entry<ByteString, Long> e : drops.entrySet()) {
          dropped.computeIfAbsent(e.getKey(), k -> new AtomicLong()).addAndGet(e.getValue());
        }
        inFlight.set(false);
        all.complete(null);
      }

      @Override
      public void onCompleted() {
        sent.addAndGet(n);
        if (n < maxPerBatch) {
          inFlight.set(false);
          all.complete(null);
        } else {
          sendNext(all);
        }
      }
    };
    try {
      sink.send(built, reply);
    } catch (RuntimeException e) {
      reply.onError(e);
    }
  }

  /** Stops the periodic send and sends what is left (waits at most 5 s). */
  public void close() {
    close(5000);
  }

  /** Stops the periodic send and sends what is left, waiting at most {@code timeoutMs}. */
  public void close(long timeoutMs) {
    synchronized (this) {
      closed = true;
      if (timer != null) {
        timer.cancel(false);
      }
    }
    // A flush in flight (the timer's) took only what was queued when it began: wait for it,
    // then send the rest, until nothing is left or the time is up.
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    try {
      while (true) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return;
        }
        flush().get(left, TimeUnit.NANOSECONDS);
        if (events.isEmpty() && !inFlight.get()) {
          return;
        }
        Thread.sleep(5);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      // best effort: the GCS is away
    }
  }
}

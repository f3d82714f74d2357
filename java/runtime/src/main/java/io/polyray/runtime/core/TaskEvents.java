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
 * <p>Owners record SUBMITTED when a task is submitted and PENDING_NODE when it is queued on
 * the io thread; a failure the owner decides records FAILED. The worker that runs an attempt
 * records RUNNING, then FINISHED or FAILED. Recording adds one small object to a lock-free
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

  private static final class Item {
    final TaskEventState state;
    final long timeNs;
    final TaskSpec spec;
    final int attempt;
    final ErrorKind kind;
    final String message;

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

  private static long nowNs() {
    java.time.Instant t = java.time.Instant.now();
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  /** Records one event of {@code spec} at its current attempt. */
  public void record(TaskEventState state, TaskSpec spec) {
    add(state, spec, spec.getAttempt(), ErrorKind.TASK_ERROR, "");
  }

  private void add(TaskEventState state, TaskSpec spec, int attempt, ErrorKind kind, String message) {
    if (size.get() >= maxBuffered) {
      dropped.computeIfAbsent(spec.getJobId(), k -> new AtomicLong()).incrementAndGet();
      return;
    }
    size.incrementAndGet();
    events.add(new Item(state, nowNs(), spec, attempt, kind, message));
  }

  /** The attempt failed with {@code record}. */
  public void failed(TaskSpec spec, ErrorRecord record) {
    String m = record.getMessage().isEmpty() ? record.getTypeName()
        : (record.getTypeName().isEmpty() ? record.getMessage() : record.getTypeName() + ": " + record.getMessage());
    if (m.length() > MAX_MESSAGE_CHARS) {
      m = m.substring(0, MAX_MESSAGE_CHARS);
    }
    add(TaskEventState.FAILED, spec, spec.getAttempt(), record.getKind(), m);
  }

  /** The attempt ran here: FINISHED, or FAILED when a return carries an error. */
  public void ended(TaskSpec spec, List<ReturnObject> returns) {
    for (ReturnObject r : returns) {
      if (r.hasValue() && r.getValue().getFormat() == Format.FORMAT_ERROR) {
        ErrorRecord rec;
        try {
          rec = ErrorRecord.parseFrom(r.getValue().getBody());
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
          rec = ErrorRecord.newBuilder().setKind(ErrorKind.RUNTIME_ERROR).build();
        }
        failed(spec, rec);
        return;
      }
      break;
    }
    record(TaskEventState.FINISHED, spec);
  }

  /** Events waiting to be sent. */
  public int buffered() {
    return size.get();
  }

  /** Events the GCS took. */
  public long sent() {
    return sent.get();
  }

  private TaskEvent toProto(Item i) {
    TaskEvent.Builder b = TaskEvent.newBuilder().setTaskId(i.spec.getTaskId()).setJobId(i.spec.getJobId())
        .setAttempt(i.attempt).setState(i.state).setLanguage(i.spec.getLanguage()).setType(i.spec.getType())
        .setName(i.spec.getName()).setActorId(i.spec.getActorId()).setParentTaskId(i.spec.getParentTaskId())
        .setNodeId(nodeId.get()).setWorkerId(workerId).setTimestampNs(i.timeNs).setWorkerPid(pid);
    if (i.state == TaskEventState.FAILED) {
      b.setErrorKind(i.kind).setErrorMessage(i.message);
    }
    return b.build();
  }

  private final java.util.concurrent.atomic.AtomicBoolean inFlight = new java.util.concurrent.atomic.AtomicBoolean();

  /** Sends what is queued now (one batch at a time, never blocking); the future ends with the last batch. */
  public java.util.concurrent.CompletableFuture<Void> flush() {
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

  /** Stops the periodic send and sends what is left. */
  public void close() {
    synchronized (this) {
      closed = true;
      if (timer != null) {
        timer.cancel(false);
      }
    }
    try {
      flush().get(5, TimeUnit.SECONDS);
    } catch (Exception e) {
      // best effort: the GCS is away
    }
  }
}

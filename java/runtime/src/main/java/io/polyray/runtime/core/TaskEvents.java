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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * This process's task events until they reach the GCS (as Python's core/task_events.py and
 * C++'s task_events.h; docs/observability.md).
 *
 * <p>Every event carries the owner's times its spec holds ({@code TaskSpec.submitted_ns},
 * {@code pending_args_ns}, {@code pending_node_ns}: an owner writes them there and reports no
 * event of a task that runs, so the worker's event gives the whole row).
 *
 * <p>An owner writes its times into the spec it pushes ({@link #ownerQueued}) and records no
 * event of a task whose result comes back ({@link #ownerDone}); a flush reports PENDING_NODE,
 * once, for a task that has waited a whole interval. It records PENDING_NODE for a retry's new
 * attempt, and FAILED for a failure the owner decides. The worker that runs an attempt records
 * RUNNING, then FINISHED (folded into the RUNNING record while that is not sent, {@link
 * #ended}) or FAILED.
 *
 * <p>Recording writes one 76-byte {@code PackedTaskEvents} full record (gcs.proto: task id,
 * head index, attempt, state, prior state, times, the owner's three times; little-endian) into
 * a reused byte array under a short lock: no protobuf built, no object per event (a running
 * attempt's token excepted). The head index names the task's kind (job, language, type, name,
 * actor, parent) in this process's head table (at most {@link #MAX_HEADS} kinds; a full table
 * is compacted to the kinds still buffered at a send). An event that does not fit a record
 * (FAILED, which carries an error; an odd task id; a kind past a full table) waits as a {@code
 * TaskEvent}. The io thread sends what is buffered every {@code EVENTS_FLUSH_INTERVAL_MS} with
 * AddTaskEvents, {@code EVENTS_MAX_PER_BATCH} events per call (the TaskEvents, then the records
 * with the heads they name, re-indexed), and once more at shutdown. At most {@code
 * EVENTS_MAX_BUFFERED_PER_PROCESS} events wait; past that new ones are dropped and counted per
 * job (the count goes with the next batch). {@code POLYRAY_TASK_EVENTS=0} turns it off.
 */
public final class TaskEvents {
  /** Sends one batch; replies on any thread. */
  public interface Sink {
    void send(AddTaskEventsRequest request, StreamObserver<AddTaskEventsReply> reply);
  }

  /** A running attempt's record, for {@link #ended} to fold its end into while it is not sent. */
  public static final class Item {
    final long token;

    Item(long token) {
      this.token = token;
    }
  }

  /** A kind of task: what a PackedTaskEvents head carries besides the reporter's place. */
  private record Head(ByteString job, int language, int type, String name, ByteString actor, ByteString parent) {
    boolean matches(TaskSpec s) {
      return language == s.getLanguageValue() && type == s.getTypeValue() && name.equals(s.getName())
          && job.equals(s.getJobId()) && actor.equals(s.getActorId()) && parent.equals(s.getParentTaskId());
    }
  }

  /** Kinds of task one process packs; events of more wait as TaskEvents. */
  public static final int MAX_HEADS = 4096;
  /** Bytes of one PackedTaskEvents full record. */
  public static final int RECORD = 76;
  private static final int HEAD_AT = 24, ATTEMPT_AT = 28, STATE_AT = 32, PRIOR_AT = 33, TIME_AT = 36,
      PRIOR_TIME_AT = 44, SUBMITTED_AT = 52, PENDING_ARGS_AT = 60, PENDING_NODE_AT = 68;

  private static final int MAX_MESSAGE_CHARS = (int) (RuntimeSpec.LIMITS_MAX_NAME_BYTES / 4);

  // Under `buf`: the packed records (count of them, RECORD bytes each; record i has token
  // firstToken + i), the events that do not fit a record, the head table.
  private final Object buf = new Object();
  private byte[] records = new byte[64 * RECORD];
  private ByteBuffer view = ByteBuffer.wrap(records).order(ByteOrder.LITTLE_ENDIAN);
  private int count;
  private long firstToken = 1;
  private final java.util.ArrayList<TaskEvent> singles = new java.util.ArrayList<>();
  private final java.util.ArrayList<Head> heads = new java.util.ArrayList<>();
  private final HashMap<Head, Integer> headIndex = new HashMap<>();
  private int lastHead = -1;
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
    long token = add(state, nowNs(), spec, spec.getAttempt(), ErrorKind.TASK_ERROR, "", null, 0);
    return token > 0 ? new Item(token) : null;
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
      add(TaskEventState.PENDING_NODE, s.getPendingNodeNs(), s, s.getAttempt(), ErrorKind.TASK_ERROR, "", null, 0);
    }
  }

  /** (The io thread.) PENDING_NODE with SUBMITTED at {@code submittedNs} folded in: one event for both. */
  public void queued(TaskSpec spec, long submittedNs) {
    add(TaskEventState.PENDING_NODE, nowNs(), spec, spec.getAttempt(), ErrorKind.TASK_ERROR, "",
        TaskEventState.SUBMITTED, submittedNs);
  }

  /** RUNNING; the item, for {@link #ended} to fold the end state into while it is not sent. */
  public Item running(TaskSpec spec) {
    return record(TaskEventState.RUNNING, spec);
  }

  /** (Under buf.) The index of spec's kind in the head table (added if new), or -1 when full. */
  private int headOf(TaskSpec spec) {
    if (lastHead >= 0 && heads.get(lastHead).matches(spec)) {
      return lastHead;
    }
    Head key = new Head(spec.getJobId(), spec.getLanguageValue(), spec.getTypeValue(), spec.getName(),
        spec.getActorId(), spec.getParentTaskId());
    Integer index = headIndex.get(key);
    if (index == null) {
      if (heads.size() >= MAX_HEADS) {
        return -1;
      }
      index = heads.size();
      heads.add(key);
      headIndex.put(key, index);
    }
    lastHead = index;
    return index;
  }

  /**
   * Buffers one event: a packed record (its token, for {@link #ended} to fold into), or a
   * TaskEvent when it does not fit one (0); -1 when dropped (the buffer is full).
   */
  private long add(TaskEventState state, long timeNs, TaskSpec spec, int attempt, ErrorKind kind, String message,
      TaskEventState prior, long priorNs) {
    synchronized (buf) {
      if (count + singles.size() >= maxBuffered) {
        dropped.computeIfAbsent(spec.getJobId(), k -> new AtomicLong()).incrementAndGet();
        return -1;
      }
      ByteString tid = spec.getTaskId();
      int head = state != TaskEventState.FAILED && tid.size() == 24 && attempt >= 0 ? headOf(spec) : -1;
      if (head >= 0) {
        int at = count * RECORD;
        if (at + RECORD > records.length) {
          records = java.util.Arrays.copyOf(records, records.length * 2);
          view = ByteBuffer.wrap(records).order(ByteOrder.LITTLE_ENDIAN);
        }
        tid.copyTo(records, at);
        view.putInt(at + HEAD_AT, head);
        view.putInt(at + ATTEMPT_AT, attempt);
        records[at + STATE_AT] = (byte) state.getNumber();
        records[at + PRIOR_AT] = prior == null ? 0 : (byte) prior.getNumber();
        records[at + PRIOR_AT + 1] = 0;
        records[at + PRIOR_AT + 2] = 0;
        view.putLong(at + TIME_AT, timeNs);
        view.putLong(at + PRIOR_TIME_AT, prior == null ? 0 : priorNs);
        view.putLong(at + SUBMITTED_AT, spec.getSubmittedNs());
        view.putLong(at + PENDING_ARGS_AT, spec.getPendingArgsNs());
        view.putLong(at + PENDING_NODE_AT, spec.getPendingNodeNs());
        count++;
        return firstToken + count - 1;
      }
      TaskEvent.Builder b = TaskEvent.newBuilder().setTaskId(tid).setJobId(spec.getJobId()).setAttempt(attempt)
          .setState(state).setLanguage(spec.getLanguage()).setType(spec.getType()).setName(spec.getName())
          .setActorId(spec.getActorId()).setParentTaskId(spec.getParentTaskId()).setTimestampNs(timeNs)
          // The owner's times of the attempt the spec carries (0: not known).
          .setSubmittedNs(spec.getSubmittedNs()).setPendingArgsNs(spec.getPendingArgsNs())
          .setPendingNodeNs(spec.getPendingNodeNs());
      if (prior != null) {
        b.setPriorState(prior).setPriorTimestampNs(priorNs);
      }
      if (state == TaskEventState.FAILED) {
        b.setErrorKind(kind).setErrorMessage(message);
      }
      singles.add(b.build());
      return 0;
    }
  }

  private static String message(ErrorRecord record) {
    String m = record.getMessage().isEmpty() ? record.getTypeName()
        : (record.getTypeName().isEmpty() ? record.getMessage() : record.getTypeName() + ": " + record.getMessage());
    return m.length() > MAX_MESSAGE_CHARS ? m.substring(0, MAX_MESSAGE_CHARS) : m;
  }

  /** The attempt failed with {@code record} (the owner decided: no worker's answer). */
  public void failed(TaskSpec spec, ErrorRecord record) {
    add(TaskEventState.FAILED, nowNs(), spec, spec.getAttempt(), record.getKind(), message(record), null, 0);
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
        // FAILED carries an error: a TaskEvent, with the RUNNING record's time folded in.
        long runningNs = 0;
        if (running != null) {
          synchronized (buf) {
            long i = running.token - firstToken;
            if (i >= 0 && i < count && records[(int) i * RECORD + PRIOR_AT] == 0) {
              runningNs = view.getLong((int) i * RECORD + TIME_AT);
            }
          }
        }
        add(TaskEventState.FAILED, nowNs(), spec, spec.getAttempt(), rec.getKind(), message(rec),
            runningNs > 0 ? TaskEventState.RUNNING : null, runningNs);
        return;
      }
      break;
    }
    if (running != null) {
      long now = nowNs();
      synchronized (buf) {
        long i = running.token - firstToken;
        if (i >= 0 && i < count) {
          int at = (int) i * RECORD;
          if (records[at + PRIOR_AT] == 0) { // RUNNING alone: FINISHED folds into it
            records[at + PRIOR_AT] = records[at + STATE_AT];
            view.putLong(at + PRIOR_TIME_AT, view.getLong(at + TIME_AT));
            records[at + STATE_AT] = (byte) TaskEventState.FINISHED_VALUE;
            view.putLong(at + TIME_AT, now);
            return;
          }
        }
      }
    }
    add(TaskEventState.FINISHED, nowNs(), spec, spec.getAttempt(), ErrorKind.TASK_ERROR, "", null, 0);
  }

  /** Events waiting to be sent. */
  public int buffered() {
    synchronized (buf) {
      return count + singles.size();
    }
  }

  /** Events the GCS took. */
  public long sent() {
    return sent.get();
  }

  /**
   * (Under buf.) Takes one batch into {@code req}: the TaskEvents first, then the records, each
   * head index turned into the index of its head in this batch; returns the events taken.
   */
  private int takeBatch(AddTaskEventsRequest.Builder req) {
    int nSingles = Math.min(singles.size(), maxPerBatch);
    ByteString node = nodeId.get();
    for (int i = 0; i < nSingles; i++) {
      req.addEvents(singles.get(i).toBuilder().setNodeId(node).setWorkerId(workerId).setWorkerPid(pid));
    }
    singles.subList(0, nSingles).clear();
    int n = Math.min(count, maxPerBatch - nSingles);
    if (n > 0) {
      byte[] out = java.util.Arrays.copyOf(records, n * RECORD);
      ByteBuffer outView = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
      int[] inBatch = new int[heads.size()];
      java.util.Arrays.fill(inBatch, -1);
      io.polyray.runtime.proto.PackedTaskEvents.Builder packed = io.polyray.runtime.proto.PackedTaskEvents.newBuilder();
      for (int at = 0; at < out.length; at += RECORD) {
        int index = outView.getInt(at + HEAD_AT);
        if (inBatch[index] < 0) {
          Head h = heads.get(index);
          inBatch[index] = packed.getHeadsCount();
          packed.addHeads(TaskEvent.newBuilder().setJobId(h.job()).setLanguageValue(h.language())
              .setTypeValue(h.type()).setName(h.name()).setActorId(h.actor()).setParentTaskId(h.parent())
              .setNodeId(node).setWorkerId(workerId).setWorkerPid(pid));
        }
        outView.putInt(at + HEAD_AT, inBatch[index]);
      }
      packed.setFullRecords(com.google.protobuf.UnsafeByteOperations.unsafeWrap(out));
      req.setPacked(packed);
      System.arraycopy(records, n * RECORD, records, 0, (count - n) * RECORD);
      count -= n;
      firstToken += n;
    }
    if (heads.size() >= MAX_HEADS) {
      compactHeads();
    }
    return nSingles + n;
  }

  /** (Under buf.) A full head table keeps only the kinds the buffered records name (re-indexed). */
  private void compactHeads() {
    int[] kept = new int[heads.size()];
    java.util.Arrays.fill(kept, -1);
    java.util.ArrayList<Head> left = new java.util.ArrayList<>();
    for (int at = 0; at < count * RECORD; at += RECORD) {
      int index = view.getInt(at + HEAD_AT);
      if (kept[index] < 0) {
        kept[index] = left.size();
        left.add(heads.get(index));
      }
      view.putInt(at + HEAD_AT, kept[index]);
    }
    heads.clear();
    heads.addAll(left);
    headIndex.clear();
    for (int i = 0; i < heads.size(); i++) {
      headIndex.put(heads.get(i), i);
    }
    lastHead = -1;
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
    int n;
    synchronized (buf) {
      n = takeBatch(req);
    }
    Map<ByteString, Long> drops = new HashMap<>();
    for (Map.Entry<ByteString, AtomicLong> e : dropped.entrySet()) {
      long c = e.getValue().getAndSet(0);
      if (c > 0) {
        drops.put(e.getKey(), c);
        req.addDropped(DroppedTaskEvents.newBuilder().setJobId(e.getKey()).setCount(c));
      }
    }
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
        ByteBuffer blob = built.getPacked().getFullRecords().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at + RECORD <= blob.limit(); at += RECORD) {
          ByteString job = built.getPacked().getHeads(blob.getInt(at + HEAD_AT)).getJobId();
          dropped.computeIfAbsent(job, k -> new AtomicLong()).incrementAndGet();
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
        if (buffered() == 0 && !inFlight.get()) {
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

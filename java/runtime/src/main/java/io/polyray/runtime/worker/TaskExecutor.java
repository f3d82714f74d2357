package io.polyray.runtime.worker;

import com.google.protobuf.ByteString;
import io.polyray.runtime.codec.ArrowTables;
import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.codec.XlangConverter;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.FunctionDescriptor;
import io.polyray.runtime.proto.JavaFunctionDescriptor;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskArg;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.ref.Hex;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;

/**
 * Runs the tasks pushed to this worker, one at a time on one thread, in arrival order
 * (so an actor sees each caller's calls in submission order). An actor created with
 * {@code max_concurrency} n &gt; 1 runs its calls on an {@link ActorCallPool} of n threads
 * instead, started in arrival order; an actor method returning a {@link CompletionStage}
 * (an async method) completes when its stage does, without holding a thread meanwhile.
 * The JVM is reused across tasks; a worker hosts at most one actor. Every pushed task
 * gets exactly one result, whatever happens: an error in resolving, converting, running
 * or replying becomes an ERROR value for each of the task's returns, and the worker stays
 * up for the next task.
 */
public final class TaskExecutor {
  private static final class Item {
    final TaskSpec spec;
    final Consumer<TaskResult> reply;

    Item(TaskSpec spec, Consumer<TaskResult> reply) {
      this.spec = spec;
      this.reply = reply;
    }
  }

  private static final Item STOP = new Item(null, null);

  /** A task being run: what cancelling it reaches. */
  private static final class Running {
    volatile Thread thread;
    volatile boolean cancelled;
    volatile CompletableFuture<?> future;
    /** A concurrent actor's call: taken right before the method is entered (ActorCallPool). */
    Runnable turn;
  }

  /** A call whose method returned a CompletionStage: its result comes when the stage completes. */
  private static final class AsyncCall {
    final TaskSpec spec;
    final Invocable fn;
    final CompletableFuture<?> future;

    AsyncCall(TaskSpec spec, Invocable fn, CompletableFuture<?> future) {
      this.spec = spec;
      this.fn = fn;
      this.future = future;
    }
  }

  /** How long a stopping worker waits for calls still in flight on the actor's pool. */
  private static final long DRAIN_MS = 10_000;
  /** Cancellations of tasks not seen yet are remembered, up to this many. */
  private static final int MAX_EARLY_CANCELS = 10_000;

  private final JavaWorker worker;
  private final FunctionResolver resolver;
  private final ReturnEncoder returns;
  private final LinkedBlockingQueue<Item> queue = new LinkedBlockingQueue<>();
  /** The result streams of generator tasks queued or running, by task id (until they finish). */
  private final Map<ByteString, Consumer<TaskResult>> streamReplies = new ConcurrentHashMap<>();
  private final Set<ByteString> cancelled = ConcurrentHashMap.newKeySet();
  private final Object runLock = new Object();
  /** The tasks running now (one, or up to max_concurrency calls of a concurrent actor). */
  private final Map<ByteString, Running> running = new HashMap<>();
  /** The calls of an actor with max_concurrency &gt; 1; null otherwise. */
  private volatile ActorCallPool pool;
  /**
   * Ray's concurrency groups (TaskSpec.concurrency_groups, set at the actor's creation): per
   * group its own ActorCallPool and a dispatcher thread handing the group's calls over in
   * arrival order, so a full group never holds up another group or the default one.
   */
  private volatile java.util.Map<String, GroupLane> groups = java.util.Map.of();
  /** The groups the actor's methods declare with @ConcurrencyGroup (MethodGroups). */
  private volatile MethodGroups methodGroups = MethodGroups.NONE;

  /** One concurrency group: its pool and the queue its dispatcher thread hands over from. */
  private final class GroupLane {
    final ActorCallPool pool;
    final LinkedBlockingQueue<Item> calls = new LinkedBlockingQueue<>();
    final Thread dispatcher;

    GroupLane(String name, int size) {
      pool = new ActorCallPool(size, "polyray-group-" + name);
      dispatcher = new Thread(() -> {
        while (true) {
          Item item;
          try {
            item = calls.take();
          } catch (InterruptedException e) {
            continue; // cancels interrupt task threads, never this one; keep serving
          }
          if (item == STOP) {
            return;
          }
          dispatch(pool, item);
        }
      }, "polyray-group-" + name + "-dispatch");
      dispatcher.setDaemon(true);
      dispatcher.start();
    }
  }

  private Object actor;
  private ByteString actorId = ByteString.EMPTY;

  TaskExecutor(JavaWorker worker, FunctionResolver resolver) {
    this.worker = worker;
    this.resolver = resolver;
    this.returns = new ReturnEncoder(worker);
  }

  /**
   * Queues a task; {@code reply} is called once with its result, from the task thread.
   *
   * @param spec the task
   * @param reply receives the result
   */
  public void enqueue(TaskSpec spec, Consumer<TaskResult> reply) {
    if (spec.getGenerator() != 0) {
      streamReplies.put(spec.getTaskId(), reply); // its items go out while it runs (StreamedReturns)
    }
    queue.add(new Item(spec, reply));
  }

  /**
   * Cancels a task: one still queued (or not arrived yet) ends with TASK_CANCELLED
   * without running; a running one is interrupted, or with {@code force} the process
   * exits (as in Ray).
   *
   * @param taskId the task
   * @param force kill the worker if the task is running
   * @return whether cancellation was attempted
   */
  public boolean cancel(ByteString taskId, boolean force) {
    synchronized (runLock) {
      Running r = running.get(taskId);
      if (r != null) {
        if (force) {
          worker.exitNow();
          return true;
        }
        r.cancelled = true;
        io.polyray.runtime.core.CancelRequests.mark(taskId);  // RuntimeContext.isCanceled()
        Thread t = r.thread;
        if (t != null) {
          t.interrupt();
        }
        CompletableFuture<?> f = r.future;
        if (f != null) {
          f.cancel(true);
        }
        return true;
      }
      if (cancelled.size() < MAX_EARLY_CANCELS) {
        cancelled.add(taskId);
      }
      return true;
    }
  }

  /** Ends {@link #runLoop()} once the tasks queued before have run. */
  public void stop() {
    queue.add(STOP);
  }

  /** Runs queued tasks on the calling thread until {@link #stop()}. */
  public void runLoop() {
    while (true) {
      Item item;
      try {
        item = next();
      } catch (InterruptedException e) {
        continue; // a cancel that raced with the end of its task
      }
      if (item == STOP) {
        drainPool();
        return;
      }
      // A call's group, else the one its method declares (@ConcurrencyGroup, checked at creation).
      String group = item.spec.getType() != TaskType.ACTOR_TASK ? "" : !item.spec.getConcurrencyGroup().isEmpty()
          ? item.spec.getConcurrencyGroup()
          : methodGroups.groupOf(item.spec.getFunction().getJava().getMethodName(), item.spec.getArgsCount());
      if (!group.isEmpty()) {
        GroupLane lane = groups.get(group);
        if (lane == null) {
          finish(item, errorResult(item.spec, ErrorRecords.runtimeError("java.lang.IllegalArgumentException",
              "concurrency group '" + group + "' is not declared by the actor of "
              + name(item.spec) + " (its groups: " + (groups.isEmpty() ? "none"
              : String.join(", ", new java.util.TreeSet<>(groups.keySet()))) + ")"), false), null, null);
        } else {
          lane.calls.add(item);
        }
        continue;
      }
      ActorCallPool p = pool;
      if (p != null && item.spec.getType() == TaskType.ACTOR_TASK) {
        dispatch(p, item);
        continue;
      }
      io.polyray.runtime.core.TaskEvents events = worker.core() == null ? null : worker.core().taskEvents;
      io.polyray.runtime.core.TaskEvents.Item ev = events != null ? events.running(item.spec) : null;
      announceOutputName(item.spec);
      Object outcome = executeSafely(item.spec);
      // A single-threaded actor's async method: one call in flight, so wait for it here.
      TaskResult result = outcome instanceof AsyncCall ? awaitAsync((AsyncCall) outcome) : (TaskResult) outcome;
      finish(item, result, events, ev);
    }
  }

  /** Ends a task: events, output flushed, borrows flushed, then its result sent. */
  private void finish(Item item, TaskResult result, io.polyray.runtime.core.TaskEvents events,
      io.polyray.runtime.core.TaskEvents.Item ev) {
    if (events != null) {
      events.ended(item.spec, result.getReturnsList(), ev); // folded into RUNNING while not sent
    }
    // User output reaches the raylet (and the driver) by the time the caller learns
    // the task finished.
    System.out.flush();
    System.err.flush();
    worker.flushBorrows();
    streamReplies.remove(item.spec.getTaskId());
    try {
      item.reply.accept(result);
    } catch (RuntimeException e) {
      System.err.println("polyray worker: cannot send the result of task " + name(item.spec) + ": " + e);
    }
  }

  /**
   * Hands an actor call to the pool (task thread, arrival order). A graceful terminate
   * waits for the calls before it and runs alone.
   */
  private void dispatch(ActorCallPool p, Item item) {
    io.polyray.runtime.core.TaskEvents events = worker.core() == null ? null : worker.core().taskEvents;
    announceOutputName(item.spec);
    String method = item.spec.getFunction().getJava().getMethodName();
    if (method.endsWith("_terminate__") && ActorBuiltins.METHODS.contains(method)) {
      boolean drained = false;
      try {
        drained = p.drain(DRAIN_MS);
      } catch (InterruptedException e) {
        // run it anyway
      }
      try {
        io.polyray.runtime.core.TaskEvents.Item ev = events != null ? events.running(item.spec) : null;
        finish(item, (TaskResult) executeSafely(item.spec), events, ev);
      } finally {
        if (drained) {
          p.release();
        }
      }
      return;
    }
    while (true) {
      try {
        p.dispatch(turn -> {
          io.polyray.runtime.core.TaskEvents.Item ev = events != null ? events.running(item.spec) : null;
          Object outcome = executeSafely(item.spec, turn);
          if (!(outcome instanceof AsyncCall)) {
            finish(item, (TaskResult) outcome, events, ev);
            return null;
          }
          AsyncCall call = (AsyncCall) outcome;
          // The result is encoded and sent from a pool thread once the stage completes;
          // no thread waits for it meanwhile.
          return call.future.handle((v, t) -> null).thenRunAsync(() -> {
            finish(item, finishAsync(call), events, ev);
          }, p.executor());
        });
        return;
      } catch (InterruptedException e) {
        // a cancel that raced with the end of its task hit this thread: try again
      } catch (java.util.concurrent.RejectedExecutionException e) {
        finish(item, errorResult(item.spec, ErrorRecords.system(ErrorKind.ACTOR_DIED,
            "the actor is stopping"), false), events, null);
        return;
      }
    }
  }

  /** On stop: the calls still in flight on the actor's pool end first (at most {@link #DRAIN_MS}). */
  private void drainPool() {
    for (GroupLane lane : groups.values()) {
      lane.calls.add(STOP);
      try {
        lane.dispatcher.join(DRAIN_MS);
        lane.pool.drain(DRAIN_MS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      lane.pool.close();
    }
    ActorCallPool p = pool;
    if (p == null) {
      return;
    }
    try {
      p.drain(DRAIN_MS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    p.close();
  }

  /** The next task: polled while {@link Spin} says it pays (the next call often comes meanwhile), then waited for. */
  private Item next() throws InterruptedException {
    Item item = queue.poll();
    if (item != null) {
      return item;
    }
    long start = System.nanoTime();
    long budget = Spin.budgetNanos();
    if (budget > 0 && Spin.acquire()) {
      try {
        long end = start + budget;
        while (System.nanoTime() < end) {
          item = queue.poll();
          if (item != null) {
            Spin.record(System.nanoTime() - start);
            return item;
          }
          Spin.pause();
        }
      } finally {
        Spin.release();
      }
    }
    item = queue.take();
    Spin.record(System.nanoTime() - start);
    return item;
  }

  /**
   * Runs a task on the calling thread: its result, or an {@link AsyncCall} when an actor
   * method returned a stage (then the task stays cancellable until {@link #finishAsync}).
   */
  private Object executeSafely(TaskSpec spec) {
    return executeSafely(spec, null);
  }

  private Object executeSafely(TaskSpec spec, Runnable turn) {
    ByteString id = spec.getTaskId();
    Running r = new Running();
    r.thread = Thread.currentThread();
    r.turn = turn;
    synchronized (runLock) {
      if (cancelled.remove(id)) {
        return errorResult(spec, ErrorRecords.system(ErrorKind.TASK_CANCELLED,
            "task " + name(spec) + " was cancelled before it ran"), false);
      }
      running.put(id, r);
    }
    worker.enterTask(spec);
    Object out = null;
    try {
      out = run(spec, r);
      return out;
    } catch (Throwable t) {
      // A bug here must not take the worker down: report it as the task's error.
      return errorResult(spec, ErrorRecord.newBuilder(ErrorRecords.runtimeError(t.getClass().getName(),
          "the Java worker failed to run " + name(spec) + ": " + t)).setTraceback(ErrorRecords.traceback(t)).build(),
          false);
    } finally {
      worker.exitTask();
      synchronized (runLock) {
        r.thread = null;
        if (out instanceof AsyncCall) {
          r.future = ((AsyncCall) out).future; // a cancel now cancels the stage
          if (r.cancelled) {
            r.future.cancel(true);
          }
        } else {
          running.remove(id);
          io.polyray.runtime.core.CancelRequests.clear(id);
        }
        Thread.interrupted(); // a late cancel must not hit the next task
      }
    }
  }

  private boolean cancelledWhileRunning(ByteString taskId) {
    synchronized (runLock) {
      Running r = running.get(taskId);
      return r != null && r.cancelled;
    }
  }

  /** Waits for an async call on the calling thread (a single-threaded actor), then finishes it. */
  private TaskResult awaitAsync(AsyncCall call) {
    while (!call.future.isDone()) {
      try {
        call.future.get();
      } catch (InterruptedException e) {
        // a cancel of this call cancels its future too; go round and see
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.CancellationException e) {
        break;
      }
    }
    return finishAsync(call);
  }

  /** The result of an async call whose stage completed (value, error or cancellation). */
  private TaskResult finishAsync(AsyncCall call) {
    TaskSpec spec = call.spec;
    worker.enterTask(spec);
    try {
      Object value;
      try {
        value = call.future.join();
      } catch (java.util.concurrent.CancellationException e) {
        return errorResult(spec, ErrorRecords.system(ErrorKind.TASK_CANCELLED,
            "task " + name(spec) + " was cancelled while running"), false);
      } catch (java.util.concurrent.CompletionException e) {
        Throwable cause = e.getCause() == null ? e : e.getCause();
        if (cause instanceof io.polyray.api.exception.ActorExitException) {
          return actorExit(spec);
        }
        if (cancelledWhileRunning(spec.getTaskId())) {
          return errorResult(spec, ErrorRecord.newBuilder(ErrorRecords.system(ErrorKind.TASK_CANCELLED,
              "task " + name(spec) + " was cancelled while running")).setCause(ErrorRecords.fromThrowable(cause))
              .build(), false);
        }
        return errorResult(spec, ErrorRecords.fromThrowable(cause), true);
      }
      try {
        return TaskResult.newBuilder().setTaskId(spec.getTaskId()).addAllReturns(returns.encode(spec, call.fn, value))
            .build();
      } catch (TaskFailure f) {
        return errorResult(spec, f.record(), false);
      } finally {
        ArrowTables.closeRoots(value);
      }
    } catch (Throwable t) {
      return errorResult(spec, ErrorRecord.newBuilder(ErrorRecords.runtimeError(t.getClass().getName(),
          "the Java worker failed to finish " + name(spec) + ": " + t)).setTraceback(ErrorRecords.traceback(t))
          .build(), false);
    } finally {
      worker.exitTask();
      synchronized (runLock) {
        running.remove(spec.getTaskId());
        io.polyray.runtime.core.CancelRequests.clear(spec.getTaskId());
      }
    }
  }

  /**
   * Runs one task and builds its result (an async method's: waits for its stage).
   *
   * @param spec the task
   * @return its result
   */
  TaskResult execute(TaskSpec spec) {
    Running r = new Running();
    r.thread = Thread.currentThread();
    Object out = run(spec, r);
    if (out instanceof AsyncCall) {
      AsyncCall call = (AsyncCall) out;
      synchronized (runLock) {
        running.put(spec.getTaskId(), r);
      }
      return awaitAsync(call);
    }
    return (TaskResult) out;
  }

  /** Runs one task: its result, or an AsyncCall for an actor method that returned a stage. */
  private Object run(TaskSpec spec, Running current) {
    OmpThreads.set(spec);
    Invocable fn;
    Object target = null;
    Object[] args;
    List<JavaWorker.Fetched> fetched = new ArrayList<>();
    try {
      if (spec.getCodeSearchPathCount() > 0) {
        resolver.loader().add(spec.getCodeSearchPathList());
      }
      fn = resolve(spec);
      boolean call = spec.getType() == TaskType.ACTOR_TASK
          && ActorBuiltins.CALLS.contains(spec.getFunction().getJava().getMethodName());
      if (spec.getType() == TaskType.ACTOR_TASK && !call) {
        target = actor;
      }
      if (spec.getKwargsCount() > 0) {
        List<String> names = new ArrayList<>();
        spec.getKwargsList().forEach(k -> names.add(k.getName()));
        throw new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalArgumentException",
            "keyword arguments are not supported for Java callees: " + fn.displayName() + " got " + names
                + "; pass them positionally"));
      }
      // __polyray_call__: argument 0 names the function, which gets the actor there instead.
      args = arguments(spec, fn, fetched, call ? 1 : 0);
      if (call) {
        args[0] = actor;
      }
    } catch (TaskFailure f) {
      releaseAll(fetched);
      return errorResult(spec, f.record(), false);
    }
    // Arrow tables given to a normal task live for the call: closed once its result is
    // encoded (an actor owns what it is given, and closes it itself).
    Object[] tables = spec.getType() == TaskType.NORMAL_TASK ? arrowRoots(args) : new Object[0];
    Object value;
    boolean invoked = false;
    try {
      if (current.turn != null) {
        current.turn.run();
      }
      value = fn.invoke(target, args);
      invoked = true;
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      if (cause instanceof io.polyray.api.exception.ActorExitException && spec.getType() != TaskType.NORMAL_TASK) {
        return actorExit(spec);
      }
      if (current.cancelled) {
        return errorResult(spec, ErrorRecord.newBuilder(ErrorRecords.system(ErrorKind.TASK_CANCELLED,
            "task " + name(spec) + " was cancelled while running")).setCause(ErrorRecords.fromThrowable(cause)).build(),
            false);
      }
      return errorResult(spec, ErrorRecords.fromThrowable(cause), true);
    } catch (ReflectiveOperationException | IllegalArgumentException e) {
      return errorResult(spec, ErrorRecords.runtimeError(e.getClass().getName(),
          "cannot call " + fn.displayName() + ": " + e.getMessage()), false);
    } finally {
      args = null;
      releaseAll(fetched);
      if (!invoked) {
        ArrowTables.closeRoots(tables);
      }
    }
    if (spec.getType() == TaskType.ACTOR_CREATION_TASK) {
      if (value == null) {
        return errorResult(spec, ErrorRecords.runtimeError("java.lang.NullPointerException",
            fn.displayName() + " returned null: an actor factory must return the actor instance"), false);
      }
      try {
        methodGroups = MethodGroups.of(value.getClass(), spec.getConcurrencyGroupsMap().keySet());
      } catch (TaskFailure f) {
        return errorResult(spec, f.record(), false);
      }
      actor = value;
      actorId = spec.getActorId();
      if (spec.getMaxConcurrency() > 1) {
        pool = new ActorCallPool(spec.getMaxConcurrency(), "polyray-actor");
      }
      if (!spec.getConcurrencyGroupsMap().isEmpty()) {
        java.util.Map<String, GroupLane> lanes = new java.util.TreeMap<>();
        spec.getConcurrencyGroupsMap().forEach((g, n) -> lanes.put(g, new GroupLane(g, Math.max(1, n))));
        groups = java.util.Collections.unmodifiableMap(lanes);  // before the creation's reply
      }
      return TaskResult.newBuilder().setTaskId(spec.getTaskId()).setActorReady(true).build();
    }
    if (spec.getGenerator() != 0 && spec.getType() != TaskType.ACTOR_CREATION_TASK) {
      try {
        return StreamedReturns.run(spec, fn, value, returns, streamReplies.get(spec.getTaskId()),
            () -> current.cancelled);
      } catch (StreamedReturns.Failed f) {
        return errorResult(spec, f.record, f.application);
      } finally {
        ArrowTables.closeRoots(tables);
      }
    }
    if (spec.getType() == TaskType.ACTOR_TASK && value instanceof CompletionStage) {
      // An async method: the call's result is the stage's value, sent when it completes.
      return new AsyncCall(spec, fn, ((CompletionStage<?>) value).toCompletableFuture());
    }
    try {
      return TaskResult.newBuilder().setTaskId(spec.getTaskId()).addAllReturns(returns.encode(spec, fn, value)).build();
    } catch (TaskFailure f) {
      return errorResult(spec, f.record(), false);
    } finally {
      // A returned table is handed over: encoded above, then freed with the arguments'.
      ArrowTables.closeRoots(tables);
      ArrowTables.closeRoots(value);
    }
  }

  private static Object[] arrowRoots(Object[] args) {
    List<Object> out = new ArrayList<>();
    for (Object a : args) {
      if (a instanceof org.apache.arrow.vector.VectorSchemaRoot) {
        out.add(a);
      }
    }
    return out.toArray();
  }

  private static void releaseAll(List<JavaWorker.Fetched> fetched) {
    for (JavaWorker.Fetched f : fetched) {
      if (f.keepAlive != null) {
        f.keepAlive.releaseIfUnused();
      }
    }
    fetched.clear();
  }

  private Invocable resolve(TaskSpec spec) throws TaskFailure {
    FunctionDescriptor fd = spec.getFunction();
    if (fd.getKindCase() != FunctionDescriptor.KindCase.JAVA) {
      throw new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalArgumentException",
          "task " + name(spec) + " has a " + fd.getKindCase() + " function descriptor; a Java worker runs Java "
              + "descriptors only"));
    }
    JavaFunctionDescriptor d = fd.getJava();
    int n = spec.getArgsCount();
    switch (spec.getType()) {
      case NORMAL_TASK:
      case ACTOR_CREATION_TASK:
        if (spec.getType() == TaskType.ACTOR_CREATION_TASK && actor != null) {
          throw new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalStateException",
              "this worker already hosts actor " + Hex.of(actorId.toByteArray()) + "; it cannot create another"));
        }
        return resolver.resolve(spec.getType(), d, n);
      case ACTOR_TASK:
        if (actor == null || !actorId.equals(spec.getActorId())) {
          throw new TaskFailure(ErrorRecords.system(ErrorKind.ACTOR_DIED,
              "this worker does not host actor " + Hex.of(spec.getActorId().toByteArray())
                  + (actor == null ? " (no actor was created here)" : "")));
        }
        if (ActorBuiltins.METHODS.contains(d.getMethodName())) {
          return ActorBuiltins.resolve(d.getMethodName(), n);
        }
        if (ActorBuiltins.CALLS.contains(d.getMethodName())) {
          return ActorBuiltins.resolveCall(resolver, actor.getClass(), spec, worker.codec());
        }
        return resolver.resolveActorMethod(actor.getClass(), d, n);
      default:
        throw new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalArgumentException",
            "unknown task type " + spec.getTypeValue()));
    }
  }

  /** Decodes and converts every argument to its parameter's declared type. */
  private Object[] arguments(TaskSpec spec, Invocable fn, List<JavaWorker.Fetched> fetched, int first)
      throws TaskFailure {
    Type[] types = fn.parameterTypesShared();
    Object[] out = new Object[types.length];
    Codec codec = worker.codec();
    for (int i = first; i < types.length; i++) {
      TaskArg a = spec.getArgs(i);
      String what = "argument " + i + " of " + fn.displayName();
      Object value;
      if (a.hasRef()) {
        JavaWorker.Fetched f = worker.fetch(a.getRef(), what);
        fetched.add(f);
        value = f.value;
      } else {
        Envelope env = a.getValue();
        if (env.getFormat() == Format.FORMAT_ERROR) {
          throw JavaWorker.argumentError((ErrorRecord) codec.decode(env), what);
        }
        try {
          value = codec.decode(env, false);
        } catch (IllegalArgumentException e) {
          throw new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalArgumentException",
              what + " cannot be decoded in Java: " + e.getMessage()));
        }
      }
      try {
        out[i] = XlangConverter.convert(value, types[i], what);
      } catch (IllegalArgumentException e) {
        throw new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalArgumentException", e.getMessage()));
      }
    }
    return out;
  }

  /**
   * An intended exit of the actor ({@code PolyRay.exitActor()} or {@code __polyray_terminate__}):
   * the GCS marks it dead without a restart and stops this worker; the call gets ACTOR_DIED.
   */
  private TaskResult actorExit(TaskSpec spec) {
    ErrorRecord record = ErrorRecords.system(ErrorKind.ACTOR_DIED, "the actor exited by a user request: "
        + name(spec) + " called PolyRay.exitActor(); calls after it fail").toBuilder()
        .setReason(io.polyray.runtime.proto.ErrorReason.REASON_KILLED).build();
    try {
      if (worker != null && worker.core() != null) {
        worker.core().killActor(spec.getActorId(), true);
      }
    } catch (RuntimeException e) {
      // The GCS did not answer: the worker still exits below, as a failure (a restart may follow).
      System.err.println("polyray: could not mark the actor dead in the GCS: " + e);
      worker.exitSoon();
    }
    return errorResult(spec, record, false);
  }

  /** An ERROR value for each return (one for a failed actor creation). */
  private static TaskResult errorResult(TaskSpec spec, ErrorRecord record, boolean application) {
    Envelope env = Codec.encodeError(record).toEnvelope();
    int n = Math.max(spec.getNumReturns(), spec.getType() == TaskType.ACTOR_CREATION_TASK ? 1 : 0);
    TaskResult.Builder b = TaskResult.newBuilder().setTaskId(spec.getTaskId()).setIsApplicationError(application);
    for (int i = 1; i <= n; i++) {
      b.addReturns(ReturnObject.newBuilder().setObjectId(Ids.returnId(spec.getTaskId(), i)).setValue(env)
          .setSize(env.getBody().size()));
    }
    return b.build();
  }

  /** The line a worker writes on stdout when what it runs changes (the raylet labels output with it). */
  static final String OUTPUT_NAME_MARKER = ":polyray_name:";

  private String announced = "";

  /** The name shown before a task's output: the method, or the actor's class (as in Python and C++). */
  static String outputName(TaskSpec spec) {
    String n = name(spec);
    boolean actor = spec.getType() == TaskType.ACTOR_TASK || spec.getType() == TaskType.ACTOR_CREATION_TASK;
    int dot = n.lastIndexOf('.');
    if (actor && dot > 0) {
      n = n.substring(0, dot);
    }
    return n.substring(n.lastIndexOf('.') + 1);
  }

  private void announceOutputName(TaskSpec spec) {
    String n = outputName(spec);
    if (!n.equals(announced)) {
      announced = n;
      System.out.print(OUTPUT_NAME_MARKER + n + "\n");
      System.out.flush();
    }
  }

  private static String name(TaskSpec spec) {
    if (!spec.getName().isEmpty()) {
      return spec.getName();
    }
    JavaFunctionDescriptor d = spec.getFunction().getJava();
    return d.getClassName() + "." + d.getMethodName();
  }

  /** For tests and diagnostics: the hosted actor, or null. */
  Object actor() {
    return actor;
  }
}

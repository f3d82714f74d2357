package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.polyray.api.BaseActorHandle;
import io.polyray.api.ObjectRef;
import io.polyray.api.spi.CallOptions;
import io.polyray.api.spi.FunctionSpec;
import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.codec.Encoded;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.GcsServiceGrpc;
import io.polyray.runtime.proto.RayletServiceGrpc;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.ref.ObjectRefImpl;
import io.polyray.runtime.spec.RuntimeSpec;
import io.polyray.runtime.store.SharedStore;
import java.lang.ref.Cleaner;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The CoreWorker of a Java process (docs/architecture.md): submits tasks and actor calls, owns
 * the objects it creates (put values, task returns), answers {@code GetObject} and
 * {@code UpdateBorrows} for them, and resolves {@code get}. A driver runs one with its
 * own CoreWorkerService server ({@link DriverRuntime}); a Java worker runs one beside its
 * task executor, so that tasks can submit tasks.
 *
 * <p>Threads: user threads call the blocking methods ({@link #put}, {@link #get},
 * {@link #submitTask}, ...), which hand work to one io thread; every asynchronous gRPC
 * callback runs on that thread too (it is the channels' executor), so the submitters'
 * state is confined to it. Invariants: an owned object is completed once (value, store
 * location or error); values larger than {@link RuntimeSpec#INLINE_MAX_BYTES} never travel
 * inline ({@link io.polyray.runtime.spec.Policies#travelsInline}); every wait ends, by value,
 * error or timeout. The constants every CoreWorker shares come from {@link RuntimeSpec}.
 */
public final class CoreWorker {
  private static final Cleaner CLEANER = Cleaner.create();

  /** What a CoreWorker is told when it is made. */
  public static final class Options {
    /** True for a driver, false for a worker. */
    public boolean isDriver;
    /** {@code host:port} of the GCS. */
    public String gcsAddress = "";
    /** {@code host:port} of the node's raylet. */
    public String rayletAddress = "";
    /** The node's ID. */
    public ByteString nodeId = ByteString.EMPTY;
    /** The node's store segment. */
    public String storeName = "";
    /** The job's ID. */
    public ByteString jobId = ByteString.EMPTY;
    /** This process's worker ID. */
    public ByteString workerId = ByteString.EMPTY;
    /** The job's namespace. */
    public String namespace = "";
    /** A driver's JobInfo.default_actor_lifetime ("detached", "non_detached" or ""); null: a worker (read from the job table). */
    public String defaultActorLifetime;
    /** The job's code search path. */
    public List<String> codeSearchPath = List.of();
    /**
     * The job's runtime env (JSON; docs/jobs.md, "Runtime environments"), carried by every spec
     * this process makes: by default the system property {@code polyray.job.runtimeEnv}, else
     * {@code $POLYRAY_RUNTIME_ENV_JSON} (set by the job supervisor for a driver, by the raylet for
     * a worker started in one).
     */
    public String runtimeEnv = RuntimeEnvConfig.fromEnvironment();
    /** The process's store handle, when it has one already (a worker's); else opened here. */
    public java.util.function.Supplier<SharedStore> store;
    /** The bound of the lineage kept to recompute lost objects (negative: the spec's;
     * $POLYRAY_LINEAGE_MAX_BYTES wins). */
    public long lineageMaxBytes = -1;
  }

  /** The task whose code runs on a thread (puts are numbered per task). */
  static final class TaskContext {
    final ByteString taskId;
    final AtomicInteger puts = new AtomicInteger();
    /** The running task's spec (null for a driver's), for the runtime context. */
    final TaskSpec spec;

    TaskContext(ByteString taskId) {
      this(taskId, null);
    }

    TaskContext(ByteString taskId, TaskSpec spec) {
      this.taskId = taskId;
      this.spec = spec;
    }
  }

  final boolean isDriver;
  final String gcsAddress;
  final String rayletAddress;
  final ByteString jobId;
  final ByteString workerId;
  final String namespace;
  final String defaultActorLifetime;
  final List<String> codeSearchPath;
  final String runtimeEnv;
  volatile ByteString nodeId;
  volatile String storeName;
  volatile Address address;
  volatile boolean shuttingDown;

  final ScheduledExecutorService loop;
  final Channels channels;
  final MemoryStore memoryStore = new MemoryStore();
  final ReferenceCounter references;
  final BorrowerWatch borrowerWatch;
  final OwnerWatch ownerWatch;
  /** Task events to the GCS (TaskEvents); null with POLYRAY_TASK_EVENTS=0. */
  public final TaskEvents taskEvents;
  final Codec codec;
  final NormalTaskSubmitter submitter;
  final ActorTaskSubmitter actorSubmitter;

  final TaskContext driverTask;
  final ThreadLocal<TaskContext> currentTask = new ThreadLocal<>();
  final Object storeLock = new Object();
  volatile SharedStore store;
  final java.util.function.Supplier<SharedStore> sharedStore;
  volatile boolean inActor;
  /** The creation spec of the actor this worker hosts (null: none), for the runtime context. */
  volatile TaskSpec actorCreation;
  final BorrowTracker borrows = new BorrowTracker(this);
  final TaskSubmission tasks = new TaskSubmission(this);
  final ObjectGetter getter = new ObjectGetter(this);
  final ObjectServer server = new ObjectServer(this);
  /** Nodes holding copies of owned objects beside the primary (ObjectLocations). */
  final ObjectLocations locations = new ObjectLocations();
  final OwnedObjects owned = new OwnedObjects(this);
  /** The items of the generator tasks this process called (GeneratorStreams). */
  final GeneratorStreams generators = new GeneratorStreams(GeneratorStreams.ownerOf(this));
  /** Counted actor handles and the destruction of actors whose last handle went. */
  final ActorHandleCounting handleCounting = new ActorHandleCounting(this);
  /** The specs that recompute stored returns (Lineage) and the component that does it. */
  final Lineage lineage;
  final ObjectRecovery recovery;
  private final java.util.concurrent.ExecutorService recoveryThreads;

  java.util.concurrent.Executor recoveryExecutor() {
    return recoveryThreads;
  }

  /**
   * A CoreWorker (call {@link #setAddress} once its server listens).
   *
   * @param o identity and location
   */
  public CoreWorker(Options o) {
    this.isDriver = o.isDriver;
    this.gcsAddress = o.gcsAddress;
    this.rayletAddress = o.rayletAddress;
    this.nodeId = o.nodeId;
    this.storeName = o.storeName;
    this.jobId = o.jobId;
    this.workerId = o.workerId;
    this.namespace = o.namespace == null ? "" : o.namespace;
    this.defaultActorLifetime = o.defaultActorLifetime;
    this.codeSearchPath = List.copyOf(o.codeSearchPath);
    this.runtimeEnv = o.runtimeEnv == null ? "" : o.runtimeEnv;
    this.sharedStore = o.store;
    this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "polyray-io");
      t.setDaemon(true);
      return t;
    });
    this.channels = new Channels(loop);
    this.references = new ReferenceCounter(new ReferenceEvents(this));
    this.codec = new Codec(handleCounting.new Hooks());
    this.driverTask = new TaskContext(Ids.taskId(jobId));
    // The submitters meet the rest of the process only through these seams (unit tests
    // give them fakes instead).
    IoScheduler scheduler = IoScheduler.of(loop);
    // Dead borrowers' borrows and lends are released (BorrowerWatch).
    this.borrowerWatch = new BorrowerWatch(references, scheduler, (req, deadlineS, reply) -> gcsAsync()
        .withDeadlineAfter(deadlineS, TimeUnit.SECONDS).getDeadWorkers(req, reply), workerId,
        RuntimeSpec.BORROWERS_DEATH_WATCH_MS);
    // Owners of borrowed objects read locally, and which are known dead (local reads).
    this.ownerWatch = new OwnerWatch(scheduler, (req, deadlineS, reply) -> gcsAsync()
        .withDeadlineAfter(deadlineS, TimeUnit.SECONDS).getDeadWorkers(req, reply),
        RuntimeSpec.BORROWERS_DEATH_WATCH_MS, OwnerWatch.IDLE_MS);
    this.taskEvents = TaskEvents.enabled() ? new TaskEvents(() -> this.nodeId, workerId,
        (req, reply) -> gcsAsync().withDeadlineAfter(5, TimeUnit.SECONDS).addTaskEvents(req, reply),
        RuntimeSpec.EVENTS_MAX_BUFFERED_PER_PROCESS, RuntimeSpec.EVENTS_MAX_PER_BATCH) : null;
    if (taskEvents != null) {
      taskEvents.start(loop);
    }
    TaskFinisher finisher = new OwnerTaskFinisher(this);
    LeaseClient.Directory raylets = new LeaseClient.Directory() {
      @Override
      public LeaseClient local() {
        return LeaseClient.grpc(CoreWorker.this::rayletAsync, rayletAddress);
      }

      @Override
      public LeaseClient at(Address raylet) {
        return LeaseClient.grpc(() -> RayletServiceGrpc.newStub(channels.get(raylet)), Rpcs.target(raylet));
      }
    };
    ActorDirectory actors = (req, deadlineS, reply) ->
        gcsAsync().withDeadlineAfter(deadlineS, TimeUnit.SECONDS).getActorInfo(req, reply);
    NormalTaskSubmitter.NodeTable nodeTable = (deadlineS, reply) -> gcsAsync()
        .withDeadlineAfter(deadlineS, TimeUnit.SECONDS)
        .getAllNodes(io.polyray.runtime.proto.GetAllNodesRequest.getDefaultInstance(), reply);
    this.submitter = new NormalTaskSubmitter(raylets, channels::pushTasks, finisher, scheduler, () -> shuttingDown,
        nodeTable, () -> nodeId);
    this.actorSubmitter = new ActorTaskSubmitter(actors, channels::pushTasks, finisher, scheduler,
        () -> shuttingDown);
    // Lost objects are recomputed from their lineage (Lineage, ObjectRecovery).
    this.lineage = new Lineage(Lineage.maxBytesFromEnv(o.lineageMaxBytes), references::removeSubmitted);
    this.recoveryThreads = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "polyray-recovery");
      t.setDaemon(true);
      return t;
    });
    this.recovery = new ObjectRecovery(lineage, memoryStore, references::isOwned, references::addSubmitted,
        t -> onIo(() -> submitter.submit(t)), (oid, node) -> puller().probe(oid, node), locations::of,
        recoveryThreads);
  }

  /**
   * Sets this process's address (node, host, port of its CoreWorkerService, worker ID).
   *
   * @param address the address owners and callers reach it at
   */
  public void setAddress(Address address) {
    this.address = address;
  }

  /**
   * This process's address.
   *
   * @return the address
   */
  public Address address() {
    return address;
  }

  /**
   * The codec of this process (references decode as counted ObjectRefs).
   *
   * @return the codec
   */
  public Codec codec() {
    return codec;
  }

  ByteString nodeId() {
    return nodeId;
  }

  /**
   * Updates the node's identity once the raylet told it (a worker's registration reply).
   *
   * @param node the node ID
   * @param store the store segment name
   */
  public void setNode(ByteString node, String store) {
    if (node != null && !node.isEmpty()) {
      this.nodeId = node;
    }
    if (store != null && !store.isEmpty()) {
      this.storeName = store;
    }
  }

  GcsServiceGrpc.GcsServiceBlockingStub gcs() {
    return GcsServiceGrpc.newBlockingStub(channels.get(gcsAddress))
        .withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, TimeUnit.SECONDS);
  }

  GcsServiceGrpc.GcsServiceStub gcsAsync() {
    return GcsServiceGrpc.newStub(channels.get(gcsAddress));
  }

  RayletServiceGrpc.RayletServiceBlockingStub raylet() {
    return RayletServiceGrpc.newBlockingStub(channels.get(rayletAddress))
        .withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, TimeUnit.SECONDS);
  }

  RayletServiceGrpc.RayletServiceStub rayletAsync() {
    return RayletServiceGrpc.newStub(channels.get(rayletAddress));
  }

  /** Runs {@code r} on the io thread (dropped after shutdown). */
  void onIo(Runnable r) {
    try {
      loop.execute(r);
    } catch (RejectedExecutionException e) {
      // shut down: nothing is waiting for this work any more
    }
  }

  /** The node's shared store, opened on first use. */
  private ObjectPuller puller;

  /** Pulls objects held on other nodes into this node's store. */
  synchronized ObjectPuller puller() {
    if (puller == null) {
      puller = new ObjectPuller(gcsAddress, this::store, () -> nodeId);
    }
    return puller;
  }

  SharedStore store() {
    if (sharedStore != null) {
      return sharedStore.get();
    }
    SharedStore s = store;
    if (s == null) {
      synchronized (storeLock) {
        s = store;
        if (s == null) {
          Sdk.ensureStoreLibraryProperty();
          s = SharedStore.open(storeName);
          store = s;
        }
      }
    }
    return s;
  }

  // ---------------------------------------------------------------- task context

  /**
   * Marks the calling thread as running {@code spec} (a worker's task thread), so that
   * puts and nested tasks belong to it.
   *
   * @param spec the running task
   */
  public void enterTask(TaskSpec spec) {
    currentTask.set(new TaskContext(spec.getTaskId(), spec));
    if (spec.getType() == TaskType.ACTOR_CREATION_TASK) {
      actorCreation = spec;
      inActor = true;
    }
  }

  /** The calling thread no longer runs a task. */
  public void exitTask() {
    currentTask.remove();
  }

  TaskContext context() {
    TaskContext c = currentTask.get();
    return c == null ? driverTask : c;
  }

  ByteString nextPutId() {
    TaskContext c = context();
    return Ids.putId(c.taskId, c.puts.incrementAndGet());
  }

  // ---------------------------------------------------------------- references

  /**
   * The counted ObjectRef of a message: owned when its owner is this process, else
   * borrowed (registered with the owner on its first local reference).
   *
   * @param msg the message
   * @param valueType the type {@code get} converts to (null: natural form)
   * @param <T> the value type
   * @return the reference
   */
  <T> ObjectRefImpl<T> refFromProto(io.polyray.runtime.proto.ObjectRef msg, Type valueType) {
    boolean owned = msg.getOwner().getWorkerId().equals(workerId);
    ObjectRefImpl<T> ref = new ObjectRefImpl<>(msg, valueType);
    ByteString oid = msg.getObjectId();
    references.addLocal(oid, owned ? null : msg.getOwner());
    ReferenceCounter counter = references;
    CLEANER.register(ref, () -> counter.removeLocal(oid));
    return ref;
  }

  <T> ObjectRefImpl<T> ownedRef(ByteString oid, Type valueType) {
    return refFromProto(io.polyray.runtime.proto.ObjectRef.newBuilder().setObjectId(oid).setOwner(address).build(),
        valueType);
  }

  boolean isOwnedRef(ObjectRefImpl<?> ref) {
    return ref.toProto().getOwner().getWorkerId().equals(workerId);
  }

  /** Keeps the references nested in a value alive while the value is held here. */
  List<Object> holdNested(List<io.polyray.runtime.proto.ObjectRef> nested) {
    if (nested.isEmpty()) {
      return List.of();
    }
    List<Object> out = new ArrayList<>(nested.size());
    for (io.polyray.runtime.proto.ObjectRef r : nested) {
      out.add(refFromProto(r, null));
    }
    return out;
  }

  void queueFree(ByteString oid) {
    borrows.queueFree(oid);
  }

  /**
   * Whether borrow registrations are queued or on their way to owners.
   *
   * @return true when {@link #flushBorrows} has something to wait for
   */
  public boolean hasPendingBorrows() {
    return borrows.hasPendingBorrows();
  }

  /**
   * Why this worker must not leave as idle (the raylet's Exit with force=false): it owns
   * objects still referenced anywhere or holds borrowed ones. References dropped by user
   * code are counted down by a Cleaner after a collection, so an idle worker that seems
   * to hold some collects first and looks again (at most about 200 ms).
   *
   * @return the reason, or empty when the worker may leave
   */
  public String whyNotExit() {
    String why = references.whyNotExit();
    if (why.isEmpty()) {
      return why;
    }
    System.gc();
    for (int i = 0; i < 10 && !why.isEmpty(); i++) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      why = references.whyNotExit();
    }
    return why;
  }

  /**
   * Owned references leave inside a task's return value: they stay alive until the
   * caller registers as their borrower.
   *
   * @param nested the references found in the value
   */
  public void lend(List<io.polyray.runtime.proto.ObjectRef> nested) {
    borrows.lend(nested);
  }

  /**
   * Refs leave inside a task's return value to {@code caller}, which acknowledges them
   * (docs/ownership.md, "The reference protocol"): held on its behalf until it does.
   *
   * @param nested the references found in the value
   * @param caller the task's caller
   */
  public void lend(List<io.polyray.runtime.proto.ObjectRef> nested, Address caller) {
    borrows.lend(nested, caller);
  }

  /**
   * Waits until the borrow registrations made so far reached their owners (a worker
   * calls this before it replies to the task that gave it the references, so that no
   * owner frees an object a borrower still holds).
   *
   * @param timeoutMs the longest wait
   */
  public void flushBorrows(long timeoutMs) {
    borrows.flushBorrows(timeoutMs);
  }

  // ---------------------------------------------------------------- values

  /**
   * Stores a value owned by this process.
   *
   * @param value the value
   * @param <T> its type
   * @return its reference
   */
  public <T> ObjectRef<T> put(Object value) {
    return owned.put(value);
  }

  /**
   * Writes an encoded value into the node's store under {@code oid} and has the raylet
   * pin it for {@code owner}; a pin of our own covers the gap until the raylet's is in
   * place, so the object cannot be evicted in between.
   *
   * @param oid the object ID
   * @param enc the value
   * @param owner the object's owner
   */
  public void putInStore(ByteString oid, Encoded enc, Address owner) {
    owned.putInStore(oid, enc, owner);
  }

  /**
   * Writes an encoded value into the node's store (sealed when this returns) and queues the
   * raylet's pin of it for {@code owner} with the batched pins of puts (docs/ownership.md,
   * "Pins"); this process pins the object until the raylet answered. A worker's stored task
   * returns go this way and wait for the answers before their result is sent.
   *
   * @param oid the object ID
   * @param enc the value
   * @param owner the object's owner
   * @return completes with whether the raylet pinned the object (false when the call failed)
   */
  public java.util.concurrent.CompletableFuture<Boolean> putInStoreAsync(ByteString oid, Encoded enc,
      Address owner) {
    return owned.queueInStore(oid, enc, owner);
  }

  // ---------------------------------------------------------------- submitting

  /**
   * Submits a normal task.
   *
   * @param fn what to run
   * @param args values or ObjectRefs
   * @param o options
   * @param <R> the result type
   * @return the result's reference (owned here)
   */
  public <R> ObjectRef<R> submitTask(FunctionSpec fn, Object[] args, CallOptions o) {
    return tasks.submitTask(fn, args, o);
  }

  /**
   * Creates an actor through the GCS.
   *
   * @param fn the constructor, factory or class
   * @param args values or ObjectRefs
   * @param o options
   * @return its handle
   */
  public BaseActorHandle createActor(FunctionSpec fn, Object[] args, CallOptions o) {
    return tasks.createActor(fn, args, o);
  }

  /**
   * Serves a CancelTask for this process (TaskSubmission.serveCancel).
   *
   * @param req the request
   * @param runHere the executor's cancel of a task this process runs (a driver's: false)
   * @param out the reply
   */
  public void serveCancel(io.polyray.runtime.proto.CancelTaskRequest req, java.util.function.BooleanSupplier runHere,
      io.grpc.stub.StreamObserver<io.polyray.runtime.proto.CancelTaskReply> out) {
    tasks.serveCancel(req, runHere, out);
  }

  /**
   * Calls an actor's method; one caller's calls run in submission order.
   *
   * @param actor the actor
   * @param fn the method
   * @param args values or ObjectRefs
   * @param o options
   * @param <R> the result type
   * @return the result's reference
   */
  public <R> ObjectRef<R> submitActorTask(BaseActorHandle actor, FunctionSpec fn, Object[] args, CallOptions o) {
    return tasks.submitActorTask(actor, fn, args, o);
  }

  /**
   * The live actor of a name.
   *
   * @param name the name
   * @param ns the namespace, or null for the job's
   * @return its handle, or null
   */
  BaseActorHandle getNamedActor(String name, String ns) {
    return tasks.getNamedActor(name, ns);
  }

  /**
   * Kills an actor through the GCS.
   *
   * @param actor the actor
   * @param noRestart do not restart it
   */
  void killActor(BaseActorHandle actor, boolean noRestart) {
    tasks.killActor(actor, noRestart);
  }

  /**
   * Kills an actor by id through the GCS: an actor ending itself ({@code PolyRay.exitActor()}).
   *
   * @param actorId the actor's id
   * @param noRestart do not restart it
   */
  public void killActor(ByteString actorId, boolean noRestart) {
    gcs().killActor(io.polyray.runtime.proto.KillActorRequest.newBuilder().setActorId(actorId)
        .setNoRestart(noRestart).build());
  }

  // ---------------------------------------------------------------- getting

  static ObjectRefImpl<?> check(ObjectRef<?> r) {
    if (!(r instanceof ObjectRefImpl)) {
      throw new IllegalArgumentException("not a polyray ObjectRef: " + r);
    }
    return (ObjectRefImpl<?>) r;
  }

  /**
   * The value of a reference, converted to its declared type.
   *
   * @param r the reference
   * @param timeoutMs negative: no limit
   * @return the value
   */
  public Object get(ObjectRef<?> r, long timeoutMs) {
    return getter.get(r, timeoutMs);
  }

  /**
   * The values of several references.
   *
   * @param refs the references
   * @param timeoutMs for all of them; negative: no limit
   * @return the values
   */
  public List<Object> getAll(List<? extends ObjectRef<?>> refs, long timeoutMs) {
    return getter.getAll(refs, timeoutMs);
  }

  /**
   * Waits until {@code numReturns} references are ready.
   *
   * @param refs the references
   * @param numReturns how many
   * @param timeoutMs negative: no limit
   * @return the ready ones (at most numReturns, input order)
   */
  <T> List<ObjectRef<T>> waitReady(List<ObjectRef<T>> refs, int numReturns, long timeoutMs) {
    return getter.waitReady(refs, numReturns, timeoutMs);
  }

  // ---------------------------------------------------------------- serving owners' RPCs

  /**
   * Serves the owner's side of the object RPCs (GetObject, GetObjects, UpdateBorrows) for
   * objects owned here: the CoreWorker services of drivers and workers hand those calls to it.
   *
   * @return this process's object server
   */
  public ObjectServer objectServer() {
    return server;
  }

  /**
   * A node now holds a copy of {@code oid} (it pulled one): recorded when the object is
   * owned here, listed in later GetObject answers and probed before a recomputation.
   *
   * @param oid the object
   * @param node the node holding the new copy
   */
  public void addObjectLocation(ByteString oid, ByteString node) {
    if (references.isOwned(oid)) {
      locations.add(oid, node);
    }
  }

  /**
   * (State API.) A page of the references counted here ({@link ObjectRefListing}).
   *
   * @param request the request (validated)
   * @return the reply
   */
  public io.polyray.runtime.proto.GetObjectRefsReply listObjectRefs(
      io.polyray.runtime.proto.GetObjectRefsRequest request) {
    return ObjectRefListing.page(this, request);
  }

  /**
   * How many objects this process counts references of (owned and borrowed), for tests
   * and diagnostics.
   *
   * @return the count
   */
  public int trackedObjects() {
    return references.size();
  }

  // ---------------------------------------------------------------- shutdown

  /**
   * Returns leases, closes streams and channels, closes the store. Calls still waiting
   * end with errors.
   */
  public void shutdown() {
    if (shuttingDown) {
      return;
    }
    borrowerWatch.close();
    ownerWatch.close();
    if (taskEvents != null) {
      taskEvents.close();
    }
    CompletableFuture<Void> closed = new CompletableFuture<>();
    onIo(() -> {
      try {
        actorSubmitter.close();
        submitter.close().whenComplete((x, t) -> closed.complete(null));
      } catch (RuntimeException e) {
        closed.complete(null);
      }
    });
    try {
      closed.get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // best effort
    }
    shuttingDown = true;
    memoryStore.failWaiters(ErrorRecords.system(ErrorKind.WORKER_CRASHED,
        "the polyray runtime of this process was shut down while waiting for the object"));
    loop.shutdown();
    try {
      loop.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    loop.shutdownNow();
    recoveryThreads.shutdownNow();
    channels.closeAll();
    SharedStore s = store;
    if (s != null) {
      try {
        s.close();
      } catch (RuntimeException e) {
        // already closed
      }
      store = null;
    }
  }
}

package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.polyray.api.BaseActorHandle;
import io.polyray.api.ObjectRef;
import io.polyray.api.exception.GetTimeoutException;
import io.polyray.api.exception.ObjectLostException;
import io.polyray.api.exception.PolyRayException;
import io.polyray.api.exception.TaskCancelledException;
import io.polyray.api.spi.CallOptions;
import io.polyray.api.spi.FunctionSpec;
import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.codec.Encoded;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.codec.KeepAlive;
import io.polyray.runtime.codec.NdArray;
import io.polyray.runtime.codec.StoreLayout;
import io.polyray.runtime.codec.StoredEnvelope;
import io.polyray.runtime.codec.XlangConverter;
import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.CppFunctionDescriptor;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.FreeObjectsRequest;
import io.polyray.runtime.proto.FunctionDescriptor;
import io.polyray.runtime.proto.GcsServiceGrpc;
import io.polyray.runtime.proto.GetObjectReply;
import io.polyray.runtime.proto.GetObjectRequest;
import io.polyray.runtime.proto.JavaFunctionDescriptor;
import io.polyray.runtime.proto.Language;
import io.polyray.runtime.proto.NotifyWorkerBlockedRequest;
import io.polyray.runtime.proto.PinObjectsReply;
import io.polyray.runtime.proto.PinObjectsRequest;
import io.polyray.runtime.proto.PythonFunctionDescriptor;
import io.polyray.runtime.proto.RayletServiceGrpc;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskArg;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.proto.UpdateBorrowsReply;
import io.polyray.runtime.proto.UpdateBorrowsRequest;
import io.polyray.runtime.ref.AbstractActorHandle;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.ref.ObjectRefImpl;
import io.polyray.runtime.ref.RefHooks;
import io.polyray.runtime.store.ObjectBuilder;
import io.polyray.runtime.store.ObjectExistsException;
import io.polyray.runtime.store.ObjectId;
import io.polyray.runtime.store.ObjectView;
import io.polyray.runtime.store.SharedStore;
import io.polyray.runtime.store.StoreFullException;
import io.polyray.runtime.store.StoreTimeoutException;
import io.polyray.runtime.worker.Ids;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The CoreWorker of a Java process (DESIGN §1, §2): submits tasks and actor calls, owns
 * the objects it creates (put values, task returns), answers {@code GetObject} and
 * {@code UpdateBorrows} for them, and resolves {@code get}. A driver runs one with its
 * own CoreWorkerService server ({@link DriverRuntime}); a Java worker runs one beside its
 * task executor, so that tasks can submit tasks.
 *
 * <p>Threads: user threads call the blocking methods ({@link #put}, {@link #get},
 * {@link #submitTask}, ...), which hand work to one io thread; every asynchronous gRPC
 * callback runs on that thread too (it is the channels' executor), so the submitters'
 * state is confined to it. Invariants: an owned object is completed once (value, store
 * location or error); values above {@link #INLINE_MAX} never travel inline; every wait
 * ends, by value, error or timeout.
 */
public final class CoreWorker {
  /** Values up to this many bytes travel inline; larger ones go through the shared store. */
  public static final long INLINE_MAX = 100 * 1024;
  /** Deadline of control-plane calls (GCS, raylet), in seconds. */
  static final long RPC_TIMEOUT_S = 30;
  /** How long an owner holds a GetObject before answering timed_out, in ms. */
  static final long GET_OBJECT_WAIT_MS = 30_000;
  /** How long a read of the local store waits for an object to be sealed, in ms. */
  static final long STORE_WAIT_MS = 10_000;

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
    /** The job's code search path. */
    public List<String> codeSearchPath = List.of();
    /** The process's store handle, when it has one already (a worker's); else opened here. */
    public java.util.function.Supplier<SharedStore> store;
  }

  /** The task whose code runs on a thread (puts are numbered per task). */
  static final class TaskContext {
    final ByteString taskId;
    final AtomicInteger puts = new AtomicInteger();

    TaskContext(ByteString taskId) {
      this.taskId = taskId;
    }
  }

  final boolean isDriver;
  final String gcsAddress;
  final String rayletAddress;
  final ByteString jobId;
  final ByteString workerId;
  final String namespace;
  final List<String> codeSearchPath;
  private volatile ByteString nodeId;
  private volatile String storeName;
  private volatile Address address;
  volatile boolean shuttingDown;

  final ScheduledExecutorService loop;
  final Channels channels;
  final MemoryStore memoryStore = new MemoryStore();
  final ReferenceCounter references;
  final Codec codec;
  final NormalTaskSubmitter submitter;
  final ActorTaskSubmitter actorSubmitter;

  private final TaskContext driverTask;
  private final ThreadLocal<TaskContext> currentTask = new ThreadLocal<>();
  private final Object storeLock = new Object();
  private volatile SharedStore store;
  private final java.util.function.Supplier<SharedStore> sharedStore;
  private final Map<ByteString, Long> actorSeq = new HashMap<>();
  private volatile boolean inActor;
  /** Borrowed objects being fetched from their owners (io thread). */
  private final Set<ByteString> fetching = new HashSet<>();
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
    this.codeSearchPath = List.copyOf(o.codeSearchPath);
    this.sharedStore = o.store;
    this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "polyray-io");
      t.setDaemon(true);
      return t;
    });
    this.channels = new Channels(loop);
    this.references = new ReferenceCounter(new ReferenceCounter.Listener() {
      @Override
      public void free(ByteString oid, ByteString inStoreNode) {
        onFree(oid, inStoreNode);
      }

      @Override
      public void borrowChanged(Address owner, List<ByteString> added, List<ByteString> removed) {
        onBorrowChanged(owner, added, removed);
      }
    });
    this.codec = new Codec(new Hooks());
    this.driverTask = new TaskContext(IdGen.taskId(jobId));
    this.submitter = new NormalTaskSubmitter(this);
    this.actorSubmitter = new ActorTaskSubmitter(this);
  }

  /** Codec hooks: references decoded here are counted (and borrowed from their owners). */
  private final class Hooks extends RefHooks {
    @Override
    public Object decodeObjectRef(io.polyray.runtime.proto.ObjectRef ref) {
      return refFromProto(ref, null);
    }
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
    return GcsServiceGrpc.newBlockingStub(channels.get(gcsAddress)).withDeadlineAfter(RPC_TIMEOUT_S, TimeUnit.SECONDS);
  }

  GcsServiceGrpc.GcsServiceStub gcsAsync() {
    return GcsServiceGrpc.newStub(channels.get(gcsAddress));
  }

  RayletServiceGrpc.RayletServiceBlockingStub raylet() {
    return RayletServiceGrpc.newBlockingStub(channels.get(rayletAddress))
        .withDeadlineAfter(RPC_TIMEOUT_S, TimeUnit.SECONDS);
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
    currentTask.set(new TaskContext(spec.getTaskId()));
    if (spec.getType() == TaskType.ACTOR_CREATION_TASK) {
      inActor = true;
    }
  }

  /** The calling thread no longer runs a task. */
  public void exitTask() {
    currentTask.remove();
  }

  private TaskContext context() {
    TaskContext c = currentTask.get();
    return c == null ? driverTask : c;
  }

  private ByteString nextPutId() {
    TaskContext c = context();
    return IdGen.putId(c.taskId, c.puts.incrementAndGet());
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

  private <T> ObjectRefImpl<T> ownedRef(ByteString oid, Type valueType) {
    return refFromProto(io.polyray.runtime.proto.ObjectRef.newBuilder().setObjectId(oid).setOwner(address).build(),
        valueType);
  }

  private boolean isOwnedRef(ObjectRefImpl<?> ref) {
    return ref.toProto().getOwner().getWorkerId().equals(workerId);
  }

  /** Keeps the references nested in a value alive while the value is held here. */
  private List<Object> holdNested(List<io.polyray.runtime.proto.ObjectRef> nested) {
    if (nested.isEmpty()) {
      return List.of();
    }
    List<Object> out = new ArrayList<>(nested.size());
    for (io.polyray.runtime.proto.ObjectRef r : nested) {
      out.add(refFromProto(r, null));
    }
    return out;
  }

  private void onFree(ByteString oid, ByteString inStoreNode) {
    memoryStore.delete(oid);
    if (!inStoreNode.isEmpty() && !shuttingDown) {
      onIo(() -> queueFree(oid));
    }
  }

  void queueFree(ByteString oid) {
    pendingFree.add(oid);
    if (pendingFree.size() == 1) {
      try {
        loop.schedule(this::flushFree, 10, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException e) {
        // shut down
      }
    }
  }

  private void flushFree() {
    List<ByteString> ids = pendingFree;
    pendingFree = new ArrayList<>();
    if (ids.isEmpty() || shuttingDown) {
      return;
    }
    rayletAsync().withDeadlineAfter(RPC_TIMEOUT_S, TimeUnit.SECONDS)
        .freeObjects(FreeObjectsRequest.newBuilder().addAllObjectIds(ids).build(), Rpcs.ignore());
  }

  private void onBorrowChanged(Address owner, List<ByteString> added, List<ByteString> removed) {
    for (ByteString oid : removed) {
      memoryStore.delete(oid); // nothing here refers to the borrowed value any more
    }
    if (shuttingDown) {
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
    onIo(this::flushBorrowsNow);
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
        CoreWorkerServiceGrpc.newStub(channels.get(b.owner)).withDeadlineAfter(RPC_TIMEOUT_S, TimeUnit.SECONDS)
            .updateBorrows(UpdateBorrowsRequest.newBuilder().setBorrower(address).addAllAdded(b.added)
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
      if (r.getOwner().getWorkerId().equals(workerId)) {
        owned.add(r.getObjectId());
      }
    }
    if (!owned.isEmpty()) {
      references.addLent(owned);
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
    onIo(() -> {
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

  // ---------------------------------------------------------------- values

  /**
   * Stores a value owned by this process.
   *
   * @param value the value
   * @param <T> its type
   * @return its reference
   */
  public <T> ObjectRef<T> put(Object value) {
    if (value instanceof ObjectRef) {
      throw new IllegalArgumentException("put() of an ObjectRef is not allowed; pass the ObjectRef itself");
    }
    Encoded enc = codec.encode(value, "the value of put()");
    ByteString oid = nextPutId();
    references.addOwned(oid);
    ObjectRefImpl<T> ref = ownedRef(oid, putType(value));
    storeOwned(oid, enc);
    return ref;
  }

  /** The type a put value comes back as: its own class for scalars and arrays. */
  private static Type putType(Object v) {
    if (v == null || v instanceof List || v instanceof Map) {
      return null; // containers come back in their natural form
    }
    Class<?> c = v.getClass();
    if (c.isArray() || v instanceof Number || v instanceof Boolean || v instanceof String
        || v instanceof Character || v instanceof NdArray) {
      return c;
    }
    return null;
  }

  /** Records an owned object's encoded value: inline, or written to the store. */
  private void storeOwned(ByteString oid, Encoded enc) {
    List<ByteString> nestedIds = new ArrayList<>();
    for (io.polyray.runtime.proto.ObjectRef r : enc.nestedRefs()) {
      nestedIds.add(r.getObjectId());
    }
    if (enc.size() > INLINE_MAX) {
      putInStore(oid, enc, address);
      references.setInStore(oid, nodeId);
      memoryStore.set(oid, MemoryStore.Entry.inStore(nodeId, enc.size(), holdNested(enc.nestedRefs())));
    } else {
      memoryStore.set(oid, MemoryStore.Entry.value(enc.toEnvelope(), enc.size(), holdNested(enc.nestedRefs())));
    }
    references.setContains(oid, nestedIds);
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
  @SuppressWarnings("try")
  public void putInStore(ByteString oid, Encoded enc, Address owner) {
    SharedStore s = store();
    ObjectId id = ObjectId.fromBytes(oid.toByteArray());
    StoreLayout layout = StoreLayout.of(enc);
    byte[] meta = layout.metadata();
    try {
      ObjectBuilder b = s.create(id, layout.dataSize(), meta.length);
      try {
        layout.write(b.data());
        b.metadata().put(meta);
        b.seal();
      } catch (RuntimeException e) {
        b.abort();
        throw e;
      }
    } catch (ObjectExistsException e) {
      // a retried task already sealed it: pin that copy
    } catch (StoreFullException e) {
      throw new io.polyray.api.exception.ObjectStoreFullException("the value of object " + Hex.of(oid.toByteArray())
          + " (" + enc.size() + " bytes) does not fit in the node's store " + storeName + ": " + e.getMessage());
    }
    try (ObjectView pin = s.getOne(id, 5_000)) {
      PinObjectsReply reply = raylet().pinObjects(PinObjectsRequest.newBuilder().addObjectIds(oid).setOwner(owner)
          .build());
      if (reply.getPinnedCount() > 0 && !reply.getPinned(0)) {
        throw new PolyRayException("the raylet could not pin object " + Hex.of(oid.toByteArray()) + " in store "
            + storeName);
      }
    } catch (StatusRuntimeException e) {
      throw new PolyRayException("the raylet at " + rayletAddress + " did not pin object "
          + Hex.of(oid.toByteArray()) + ": " + e.getStatus(), e);
    }
  }

  // ---------------------------------------------------------------- submitting

  private FunctionDescriptor descriptor(FunctionSpec fn) {
    switch (fn.getLanguage()) {
      case PYTHON:
        return FunctionDescriptor.newBuilder().setPython(PythonFunctionDescriptor.newBuilder()
            .setModule(fn.getClassName()).setQualname(fn.getFunctionName())).build();
      case CPP:
        return FunctionDescriptor.newBuilder().setCpp(CppFunctionDescriptor.newBuilder()
            .setFunctionName(fn.getFunctionName()).setClassName(fn.getClassName())).build();
      default:
        return FunctionDescriptor.newBuilder().setJava(JavaFunctionDescriptor.newBuilder()
            .setClassName(fn.getClassName()).setMethodName(fn.getFunctionName()).setSignature(fn.getSignature()))
            .build();
    }
  }

  private TaskSpec.Builder newSpec(TaskType type, Language language, FunctionDescriptor fd, String name) {
    if (shuttingDown) {
      throw new IllegalStateException("the polyray runtime is shut down");
    }
    return TaskSpec.newBuilder()
        .setType(type)
        .setLanguage(language)
        .setFunction(fd)
        .setJobId(jobId)
        .setTaskId(IdGen.taskId(jobId))
        .setParentTaskId(context().taskId)
        .setCaller(address)
        .setCallerLanguage(Language.JAVA) // results come back as XLANG, which Java reads
        .setName(name)
        .addAllCodeSearchPath(codeSearchPath);
  }

  private static Language protoLanguage(io.polyray.api.Language l) {
    return Language.forNumber(l.number());
  }

  /**
   * Encodes the arguments into the spec: ObjectRefs by reference, small values inline,
   * large ones put into the store and passed by reference.
   *
   * @return the objects the task references (counted as submitted until it finishes)
   */
  private List<ByteString> buildArgs(TaskSpec.Builder spec, Object[] args, String callee, List<Object> held) {
    List<ByteString> ids = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      if (a instanceof ObjectRef) {
        ObjectRefImpl<?> ref = check((ObjectRef<?>) a);
        ids.add(ref.toProto().getObjectId());
        spec.addArgs(TaskArg.newBuilder().setRef(ref.toProto()));
        continue;
      }
      Encoded enc;
      try {
        enc = codec.encode(a, "argument " + i + " of " + callee);
      } catch (io.polyray.runtime.codec.XlangTypeException e) {
        throw new io.polyray.runtime.codec.XlangTypeException(e.getMessage() + " (the callee " + callee
            + " is a " + languageName(spec.getLanguage()) + " function; nothing was sent)", e.path(), e.typeName());
      }
      if (enc.size() > INLINE_MAX) {
        ByteString oid = nextPutId();
        references.addOwned(oid);
        ObjectRefImpl<?> ref = ownedRef(oid, null);
        held.add(ref); // reachable until the task counts it as submitted
        storeOwned(oid, enc);
        ids.add(oid);
        spec.addArgs(TaskArg.newBuilder().setRef(ref.toProto()));
        continue;
      }
      for (io.polyray.runtime.proto.ObjectRef r : enc.nestedRefs()) {
        ids.add(r.getObjectId());
      }
      spec.addArgs(TaskArg.newBuilder().setValue(enc.toEnvelope()).addAllNestedRefs(enc.nestedRefs()));
    }
    return ids;
  }

  private static String languageName(Language l) {
    switch (l) {
      case PYTHON:
        return "Python";
      case CPP:
        return "C++";
      default:
        return "Java";
    }
  }

  private static Map<String, Double> resources(CallOptions o, double defaultCpus) {
    Map<String, Double> out = new LinkedHashMap<>();
    if (!o.getResources().containsKey("CPU") && defaultCpus > 0) {
      out.put("CPU", defaultCpus);
    }
    o.getResources().forEach((k, v) -> {
      if (v > 0) {
        out.put(k, v);
      }
    });
    return out;
  }

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
    if (fn.getKind() != FunctionSpec.Kind.TASK) {
      throw new IllegalArgumentException(fn + " is not a task");
    }
    String name = o.getName().isEmpty() ? fn.displayName() : o.getName();
    TaskSpec.Builder spec = newSpec(TaskType.NORMAL_TASK, protoLanguage(fn.getLanguage()), descriptor(fn), name)
        .setNumReturns(1)
        .putAllResources(resources(o, 1.0))
        .setMaxRetries(o.getMaxRetries() == null ? 3 : o.getMaxRetries())
        .setRetryExceptions(o.isRetryExceptions());
    List<Object> held = new ArrayList<>();
    List<ByteString> argIds = buildArgs(spec, args, name, held);
    TaskSpec built = spec.build();
    ByteString ret = Ids.returnId(built.getTaskId(), 1);
    references.addOwned(ret);
    ObjectRefImpl<R> ref = ownedRef(ret, fn.getReturnType());
    references.addSubmitted(argIds);
    Reference.reachabilityFence(args);
    Reference.reachabilityFence(held);
    onIo(() -> submitter.submit(new PendingTask(built, argIds)));
    return ref;
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
    if (fn.getKind() != FunctionSpec.Kind.ACTOR_CREATION) {
      throw new IllegalArgumentException(fn + " does not create an actor");
    }
    String ns = o.getNamespace() == null ? namespace : o.getNamespace();
    boolean detached = o.getLifetime() == io.polyray.api.ActorLifetime.DETACHED;
    if (detached && o.getName().isEmpty()) {
      throw new IllegalArgumentException("a detached actor must have a name (setName(...))");
    }
    String suffix = fn.getLanguage() == io.polyray.api.Language.PYTHON ? ".__init__" : "";
    ByteString actorId = IdGen.actorId(jobId);
    TaskSpec.Builder spec = newSpec(TaskType.ACTOR_CREATION_TASK, protoLanguage(fn.getLanguage()), descriptor(fn),
        fn.displayName() + suffix)
        .setActorId(actorId)
        .setNumReturns(0)
        .putAllResources(resources(o, 0))
        .setMaxRestarts(o.getMaxRestarts() == null ? 0 : o.getMaxRestarts())
        .setMaxTaskRetries(o.getMaxTaskRetries() == null ? 0 : o.getMaxTaskRetries())
        .setMaxConcurrency(o.getMaxConcurrency() == null ? 0 : o.getMaxConcurrency())
        .setActorName(o.getName())
        .setActorNamespace(ns)
        .setDetached(detached);
    List<Object> held = new ArrayList<>();
    List<ByteString> argIds = buildArgs(spec, args, fn.displayName(), held);
    TaskSpec built = spec.build();
    references.addSubmitted(argIds);
    Reference.reachabilityFence(args);
    Reference.reachabilityFence(held);
    try {
      gcs().registerActor(io.polyray.runtime.proto.RegisterActorRequest.newBuilder().setCreationTask(built).build());
    } catch (StatusRuntimeException e) {
      references.removeSubmitted(argIds);
      Status.Code code = e.getStatus().getCode();
      if (code == Status.Code.ALREADY_EXISTS || code == Status.Code.INVALID_ARGUMENT) {
        throw new IllegalArgumentException(e.getStatus().getDescription(), e);
      }
      throw new PolyRayException("the GCS at " + gcsAddress + " did not register actor " + fn.displayName() + ": "
          + e.getStatus().getCode() + ": " + e.getStatus().getDescription(), e);
    }
    ActorHandle handle = ActorHandle.newBuilder()
        .setActorId(actorId)
        .setLanguage(built.getLanguage())
        .setClassDescriptor(built.getFunction())
        .setOwner(address)
        .setName(o.getName())
        .setNamespace(ns)
        .setMaxTaskRetries(built.getMaxTaskRetries())
        .build();
    // The creation's arguments stay referenced until the actor is up (or dead).
    onIo(() -> actorSubmitter.watchCreation(actorId, argIds));
    return AbstractActorHandle.of(handle);
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
    if (!(actor instanceof AbstractActorHandle)) {
      throw new IllegalArgumentException("not a polyray actor handle: " + actor);
    }
    ActorHandle h = ((AbstractActorHandle) actor).toProto();
    FunctionDescriptor cls = h.getClassDescriptor();
    FunctionDescriptor fd;
    String name;
    switch (h.getLanguage()) {
      case PYTHON: {
        requireLanguage(fn, io.polyray.api.Language.PYTHON, h);
        fd = descriptor(fn);
        name = fd.getPython().getQualname();
        break;
      }
      case CPP: {
        requireLanguage(fn, io.polyray.api.Language.CPP, h);
        fd = FunctionDescriptor.newBuilder().setCpp(CppFunctionDescriptor.newBuilder()
            .setFunctionName(fn.getFunctionName()).setClassName(cls.getCpp().getClassName())).build();
        name = fn.getFunctionName();
        break;
      }
      default: {
        requireLanguage(fn, io.polyray.api.Language.JAVA, h);
        String className = cls.getJava().getClassName();
        fd = FunctionDescriptor.newBuilder().setJava(JavaFunctionDescriptor.newBuilder().setClassName(className)
            .setMethodName(fn.getFunctionName()).setSignature(fn.getSignature())).build();
        name = simpleName(className) + "." + fn.getFunctionName();
        break;
      }
    }
    if (!o.getName().isEmpty()) {
      name = o.getName();
    }
    TaskSpec.Builder spec = newSpec(TaskType.ACTOR_TASK, h.getLanguage(), fd, name)
        .setActorId(h.getActorId())
        .setNumReturns(1)
        .setMaxRetries(0)
        .setCallerWorkerId(workerId);
    List<Object> held = new ArrayList<>();
    List<ByteString> argIds = buildArgs(spec, args, name, held);
    ByteString ret = Ids.returnId(spec.getTaskId(), 1);
    references.addOwned(ret);
    ObjectRefImpl<R> ref = ownedRef(ret, fn.getReturnType());
    references.addSubmitted(argIds);
    Reference.reachabilityFence(args);
    Reference.reachabilityFence(held);
    synchronized (actorSeq) {
      // Numbered and queued under one lock: calls reach the io thread in sequence order.
      long seq = actorSeq.merge(h.getActorId(), 1L, Long::sum);
      TaskSpec built = spec.setSequenceNo(seq).build();
      onIo(() -> actorSubmitter.submit(new PendingTask(built, argIds)));
    }
    return ref;
  }

  private static void requireLanguage(FunctionSpec fn, io.polyray.api.Language want, ActorHandle h) {
    if (fn.getLanguage() != want) {
      throw new IllegalArgumentException("actor " + Hex.of(h.getActorId().toByteArray()) + " is a " + want
          + " actor; " + fn.displayName() + " is a " + fn.getLanguage() + " method");
    }
  }

  private static String simpleName(String binaryName) {
    int i = Math.max(binaryName.lastIndexOf('.'), binaryName.lastIndexOf('$'));
    return binaryName.substring(i + 1);
  }

  /** Records a task's results (io thread). */
  void completeTask(TaskSpec spec, List<ReturnObject> returns, List<ByteString> argIds) {
    for (ReturnObject r : returns) {
      ByteString oid = r.getObjectId();
      boolean inStore = r.getKindCase() == ReturnObject.KindCase.IN_STORE_NODE;
      if (!references.isOwned(oid)) {
        // Every reference to this return is gone already: drop it.
        if (inStore && !r.getInStoreNode().isEmpty()) {
          queueFree(oid);
        }
        continue;
      }
      List<Object> nested = holdNested(r.getNestedRefsList());
      if (inStore) {
        references.setInStore(oid, r.getInStoreNode());
        memoryStore.set(oid, MemoryStore.Entry.inStore(r.getInStoreNode(), r.getSize(), nested));
      } else {
        memoryStore.set(oid, MemoryStore.Entry.value(r.getValue(), r.getSize(), nested));
      }
    }
    references.removeSubmitted(argIds);
  }

  /** Completes every return of a task with an error (io thread). */
  void failTask(TaskSpec spec, ErrorRecord record, List<ByteString> argIds) {
    for (int i = 1; i <= spec.getNumReturns(); i++) {
      ByteString oid = Ids.returnId(spec.getTaskId(), i);
      if (references.isOwned(oid)) {
        memoryStore.set(oid, MemoryStore.Entry.error(record));
      }
    }
    references.removeSubmitted(argIds);
  }

  /**
   * The live actor of a name.
   *
   * @param name the name
   * @param ns the namespace, or null for the job's
   * @return its handle, or null
   */
  BaseActorHandle getNamedActor(String name, String ns) {
    String space = ns == null ? namespace : ns;
    io.polyray.runtime.proto.GetNamedActorReply reply;
    try {
      reply = gcs().getNamedActor(io.polyray.runtime.proto.GetNamedActorRequest.newBuilder().setName(name)
          .setNamespace(space).build());
    } catch (StatusRuntimeException e) {
      throw new PolyRayException("the GCS at " + gcsAddress + " did not answer GetNamedActor(" + name + "): "
          + e.getStatus(), e);
    }
    if (!reply.getFound() || reply.getActor().getState() == io.polyray.runtime.proto.ActorState.DEAD) {
      return null;
    }
    return AbstractActorHandle.of(reply.getActor().getHandle());
  }

  /**
   * Kills an actor through the GCS.
   *
   * @param actor the actor
   * @param noRestart do not restart it
   */
  void killActor(BaseActorHandle actor, boolean noRestart) {
    ByteString id = ByteString.copyFrom(actor.getActorId());
    try {
      gcs().killActor(io.polyray.runtime.proto.KillActorRequest.newBuilder().setActorId(id).setNoRestart(noRestart)
          .build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        throw new IllegalArgumentException("no actor " + actor.getActorIdHex(), e);
      }
      throw new PolyRayException("the GCS at " + gcsAddress + " did not kill actor " + actor.getActorIdHex() + ": "
          + e.getStatus(), e);
    }
  }

  // ---------------------------------------------------------------- getting

  static ObjectRefImpl<?> check(ObjectRef<?> r) {
    if (!(r instanceof ObjectRefImpl)) {
      throw new IllegalArgumentException("not a polyray ObjectRef: " + r);
    }
    return (ObjectRefImpl<?>) r;
  }

  /** Starts asking the owner of a borrowed object for it (io thread). */
  private void startFetch(ObjectRefImpl<?> ref) {
    ByteString oid = ref.toProto().getObjectId();
    if (memoryStore.getIfReady(oid) != null || !fetching.add(oid)) {
      return;
    }
    fetchOnce(oid, ref.toProto().getOwner());
  }

  private void fetchOnce(ByteString oid, Address owner) {
    if (shuttingDown) {
      fetching.remove(oid);
      return;
    }
    GetObjectRequest req = GetObjectRequest.newBuilder().setObjectId(oid).setTimeoutMs(GET_OBJECT_WAIT_MS).build();
    CoreWorkerServiceGrpc.newStub(channels.get(owner)).withDeadlineAfter(GET_OBJECT_WAIT_MS + 10_000,
        TimeUnit.MILLISECONDS).getObject(req, new StreamObserver<GetObjectReply>() {
          private boolean answered;

          @Override
          public void onNext(GetObjectReply reply) {
            answered = true;
            if (reply.getTimedOut()) {
              fetchOnce(oid, owner); // the owner is alive and the object not ready yet
              return;
            }
            fetching.remove(oid);
            if (!reply.getFound()) {
              memoryStore.set(oid, MemoryStore.Entry.error(reply.hasFailure() ? reply.getFailure()
                  : ErrorRecords.system(ErrorKind.OBJECT_LOST, "the owner at " + Rpcs.target(owner)
                      + " does not know object " + Hex.of(oid.toByteArray()))));
              return;
            }
            ReturnObject obj = reply.getObject();
            if (obj.hasValue()) {
              memoryStore.set(oid, MemoryStore.Entry.value(obj.getValue(), obj.getSize(), List.of()));
            } else {
              ByteString node = obj.getInStoreNode();
              if (node.isEmpty() && reply.getLocationsCount() > 0) {
                node = reply.getLocations(0);
              }
              memoryStore.set(oid, MemoryStore.Entry.inStore(node, obj.getSize(), List.of()));
            }
          }

          @Override
          public void onError(Throwable t) {
            fetching.remove(oid);
            if (shuttingDown) {
              return;
            }
            memoryStore.set(oid, MemoryStore.Entry.error(ErrorRecords.system(ErrorKind.OBJECT_LOST,
                "the owner of object " + Hex.of(oid.toByteArray()) + " at " + Rpcs.target(owner)
                    + " is unreachable (" + Status.fromThrowable(t).getCode() + "); the object is lost")));
          }

          @Override
          public void onCompleted() {
            if (!answered) {
              fetching.remove(oid);
            }
          }
        });
  }

  /** Entries of every ref, waiting (and fetching borrowed ones) until the deadline. */
  private List<MemoryStore.Entry> await(List<ObjectRefImpl<?>> refs, long timeoutMs) {
    long deadline = timeoutMs < 0 ? Long.MAX_VALUE : System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    List<MemoryStore.Entry> out = new ArrayList<>(refs.size());
    List<CompletableFuture<MemoryStore.Entry>> futures = new ArrayList<>(refs.size());
    boolean missing = false;
    for (ObjectRefImpl<?> r : refs) {
      ByteString oid = r.toProto().getObjectId();
      MemoryStore.Entry e = memoryStore.getIfReady(oid);
      if (e == null) {
        missing = true;
        if (!isOwnedRef(r)) {
          onIo(() -> startFetch(r));
        }
        futures.add(memoryStore.future(oid));
      } else {
        futures.add(CompletableFuture.completedFuture(e));
      }
    }
    boolean blocked = missing && blocksCpu();
    if (blocked) {
      notifyBlocked(true);
    }
    try {
      int notReady = 0;
      for (int i = 0; i < futures.size(); i++) {
        CompletableFuture<MemoryStore.Entry> f = futures.get(i);
        try {
          if (deadline == Long.MAX_VALUE) {
            out.add(f.get());
          } else {
            long left = deadline - System.nanoTime();
            out.add(f.get(Math.max(0, left), TimeUnit.NANOSECONDS));
          }
        } catch (TimeoutException e) {
          notReady++;
          out.add(null);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new TaskCancelledException("interrupted while waiting for object "
              + refs.get(i).getIdHex());
        } catch (ExecutionException e) {
          throw new PolyRayException("waiting for object " + refs.get(i).getIdHex() + " failed: " + e.getCause(),
              e.getCause());
        }
      }
      if (notReady > 0) {
        String first = "";
        for (int i = 0; i < out.size(); i++) {
          if (out.get(i) == null) {
            first = refs.get(i).getIdHex();
            break;
          }
        }
        throw new GetTimeoutException("get() timed out after " + timeoutMs + " ms: " + notReady + " of "
            + refs.size() + " object(s) not ready (first: " + first + ")");
      }
      return out;
    } finally {
      if (blocked) {
        notifyBlocked(false);
      }
      Reference.reachabilityFence(refs);
    }
  }

  /** A worker waiting in a normal task lends its CPUs to the node meanwhile. */
  private boolean blocksCpu() {
    return !isDriver && currentTask.get() != null && !inActor;
  }

  private void notifyBlocked(boolean blocked) {
    onIo(() -> rayletAsync().withDeadlineAfter(RPC_TIMEOUT_S, TimeUnit.SECONDS).notifyWorkerBlocked(
        NotifyWorkerBlockedRequest.newBuilder().setWorkerId(workerId).setBlocked(blocked).build(), Rpcs.ignore()));
  }

  /**
   * The value of a reference, converted to its declared type.
   *
   * @param r the reference
   * @param timeoutMs negative: no limit
   * @return the value
   */
  public Object get(ObjectRef<?> r, long timeoutMs) {
    ObjectRefImpl<?> ref = check(r);
    MemoryStore.Entry e = await(List.of(ref), timeoutMs).get(0);
    Object v = convert(decodeEntry(ref, e), ref);
    Reference.reachabilityFence(ref);
    return v;
  }

  /**
   * The values of several references.
   *
   * @param refs the references
   * @param timeoutMs for all of them; negative: no limit
   * @return the values
   */
  public List<Object> getAll(List<? extends ObjectRef<?>> refs, long timeoutMs) {
    List<ObjectRefImpl<?>> impls = new ArrayList<>(refs.size());
    for (ObjectRef<?> r : refs) {
      impls.add(check(r));
    }
    List<MemoryStore.Entry> entries = await(impls, timeoutMs);
    List<Object> out = new ArrayList<>(impls.size());
    for (int i = 0; i < impls.size(); i++) {
      out.add(convert(decodeEntry(impls.get(i), entries.get(i)), impls.get(i)));
    }
    Reference.reachabilityFence(impls);
    return out;
  }

  private Object convert(Object value, ObjectRefImpl<?> ref) {
    Type t = ref.valueType();
    if (t == null || t == Object.class) {
      return XlangConverter.natural(value);
    }
    if (t == Void.class || t == void.class) {
      return null;
    }
    return XlangConverter.convert(value, t, "the value of object " + ref.getIdHex());
  }

  /** The decoded value of a ready entry (throws its error). */
  private Object decodeEntry(ObjectRefImpl<?> ref, MemoryStore.Entry e) {
    ByteString oid = ref.toProto().getObjectId();
    if (e.error != null) {
      throw ErrorRecords.toException(e.error);
    }
    if (e.envelope != null) {
      if (e.envelope.getFormat() == Format.FORMAT_ERROR) {
        throw ErrorRecords.toException((ErrorRecord) codec.decode(e.envelope));
      }
      try {
        return codec.decode(e.envelope, false);
      } catch (IllegalArgumentException x) {
        throw new PolyRayException("the value of object " + ref.getIdHex() + " cannot be decoded in Java: "
            + x.getMessage(), x);
      }
    }
    return readFromStore(oid, e.inStoreNode);
  }

  /** Reads an object from this node's store: ndarrays are views of shared memory. */
  private Object readFromStore(ByteString oid, ByteString node) {
    String hex = Hex.of(oid.toByteArray());
    if (node != null && !node.isEmpty() && !node.equals(nodeId)) {
      throw new ObjectLostException("object " + hex + " is held on node " + Hex.of(node.toByteArray()).substring(0, 12)
          + "; reading objects from other nodes is not supported yet");
    }
    ObjectView view;
    try {
      view = store().getOne(ObjectId.fromBytes(oid.toByteArray()), STORE_WAIT_MS);
    } catch (StoreTimeoutException e) {
      throw new ObjectLostException("object " + hex + " is not in this node's store (freed or evicted)");
    }
    KeepAlive keepAlive = new KeepAlive(view);
    try {
      StoredEnvelope stored = StoreLayout.unpack(view.metadata(), view.data());
      if (stored.format() == Format.FORMAT_ERROR) {
        throw ErrorRecords.toException((ErrorRecord) codec.decode(stored, false, null));
      }
      return codec.decode(stored, false, keepAlive);
    } catch (IllegalArgumentException x) {
      throw new PolyRayException("object " + hex + " cannot be decoded in Java: " + x.getMessage(), x);
    } finally {
      keepAlive.releaseIfUnused();
    }
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
    Object lock = new Object();
    AtomicInteger ready = new AtomicInteger();
    for (ObjectRef<T> r : refs) {
      ObjectRefImpl<?> ref = check(r);
      ByteString oid = ref.toProto().getObjectId();
      if (memoryStore.getIfReady(oid) == null && !isOwnedRef(ref)) {
        onIo(() -> startFetch(ref));
      }
      memoryStore.future(oid).whenComplete((e, t) -> {
        ready.incrementAndGet();
        synchronized (lock) {
          lock.notifyAll();
        }
      });
    }
    long deadline = timeoutMs < 0 ? Long.MAX_VALUE : System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    synchronized (lock) {
      while (ready.get() < numReturns) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(lock, Math.min(left, TimeUnit.SECONDS.toNanos(1)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new TaskCancelledException("interrupted while waiting for objects");
        }
      }
    }
    List<ObjectRef<T>> out = new ArrayList<>();
    for (ObjectRef<T> r : refs) {
      if (out.size() < numReturns && memoryStore.getIfReady(ByteString.copyFrom(r.getId())) != null) {
        out.add(r);
      }
    }
    Reference.reachabilityFence(refs);
    return out;
  }

  // ---------------------------------------------------------------- serving owners' RPCs

  /**
   * Answers a borrower's GetObject for an object owned here: at once when it is known,
   * else when it becomes known or after the request's timeout.
   *
   * @param request the request
   * @param out the reply stream
   */
  public void serveGetObject(GetObjectRequest request, StreamObserver<GetObjectReply> out) {
    ByteString oid = request.getObjectId();
    MemoryStore.Entry e = memoryStore.getIfReady(oid);
    if (e != null) {
      reply(out, oid, e);
      return;
    }
    if (!references.isOwned(oid) && !memoryStore.contains(oid)) {
      out.onNext(GetObjectReply.newBuilder().setFound(false).setFailure(ErrorRecords.system(ErrorKind.OBJECT_LOST,
          "object " + Hex.of(oid.toByteArray()) + " is not owned by worker " + Hex.of(workerId.toByteArray())
              .substring(0, 12) + " (already freed, or never existed)")).build());
      out.onCompleted();
      return;
    }
    AtomicBoolean done = new AtomicBoolean();
    if (request.getTimeoutMs() >= 0) {
      try {
        loop.schedule(() -> {
          if (done.compareAndSet(false, true)) {
            out.onNext(GetObjectReply.newBuilder().setTimedOut(true).build());
            out.onCompleted();
          }
        }, request.getTimeoutMs(), TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException x) {
        done.set(true);
        out.onError(Status.UNAVAILABLE.withDescription("shutting down").asRuntimeException());
        return;
      }
    }
    memoryStore.future(oid).thenAccept(entry -> {
      if (done.compareAndSet(false, true)) {
        reply(out, oid, entry);
      }
    });
  }

  private static void reply(StreamObserver<GetObjectReply> out, ByteString oid, MemoryStore.Entry e) {
    GetObjectReply.Builder b = GetObjectReply.newBuilder().setFound(true);
    if (e.error != null) {
      b.setObject(ReturnObject.newBuilder().setObjectId(oid).setValue(Envelope.newBuilder()
          .setFormat(Format.FORMAT_ERROR).setBody(ByteString.copyFrom(Codec.encodeError(e.error).body()))));
    } else if (e.envelope != null) {
      b.setObject(ReturnObject.newBuilder().setObjectId(oid).setValue(e.envelope).setSize(e.size));
    } else {
      b.setObject(ReturnObject.newBuilder().setObjectId(oid).setInStoreNode(e.inStoreNode).setSize(e.size))
          .addLocations(e.inStoreNode);
    }
    try {
      out.onNext(b.build());
      out.onCompleted();
    } catch (RuntimeException x) {
      // the borrower went away
    }
  }

  /**
   * A borrower registered or released objects owned here.
   *
   * @param request the request
   * @param out the reply stream
   */
  public void serveUpdateBorrows(UpdateBorrowsRequest request, StreamObserver<UpdateBorrowsReply> out) {
    references.updateBorrowers(request.getBorrower().getWorkerId(), request.getAddedList(), request.getRemovedList());
    out.onNext(UpdateBorrowsReply.getDefaultInstance());
    out.onCompleted();
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

package io.polyray.runtime.worker;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.codec.Encoded;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.codec.KeepAlive;
import io.polyray.runtime.codec.StoreLayout;
import io.polyray.runtime.codec.StoredEnvelope;
import io.polyray.runtime.core.CoreWorker;
import io.polyray.runtime.core.StoreWrites;
import io.polyray.runtime.core.WorkerRuntime;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.GetObjectReply;
import io.polyray.runtime.proto.GetObjectRequest;
import io.polyray.runtime.proto.Language;
import io.polyray.runtime.proto.ObjectRef;
import io.polyray.runtime.proto.PinObjectsReply;
import io.polyray.runtime.proto.PinObjectsRequest;
import io.polyray.runtime.proto.RayletServiceGrpc;
import io.polyray.runtime.proto.RegisterWorkerReply;
import io.polyray.runtime.proto.RegisterWorkerRequest;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.ref.RefHooks;
import io.polyray.runtime.spec.RuntimeSpec;
import io.polyray.runtime.store.ObjectId;
import io.polyray.runtime.store.ObjectView;
import io.polyray.runtime.store.SharedStore;
import io.polyray.runtime.store.StoreTimeoutException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The CoreWorker of a Java worker process: its CoreWorkerService server, its client of
 * the raylet and of object owners, the node's shared store, and the task executor.
 *
 * <p>Lifecycle: {@link #start()} (server listening, registered with the raylet), then
 * {@link #runTasks()} on the thread that should run user code (the main thread in
 * {@link io.polyray.runtime.WorkerMain}), until {@link #shutdown()} or an Exit request.
 */
public final class JavaWorker implements AutoCloseable {
  private final WorkerConfig config;
  private final Runnable exitAction;
  private final Codec codec = new Codec(RefHooks.INSTANCE);
  private final CodeSearchPath loader;
  private final TaskExecutor executor;
  private final Map<String, ManagedChannel> ownerChannels = new ConcurrentHashMap<>();
  private final Object storeLock = new Object();
  private volatile SharedStore store;
  private volatile ByteString nodeId;
  private volatile String storeName;
  private Server server;
  private PushPort pushPort;
  private ManagedChannel rayletChannel;
  private RayletServiceGrpc.RayletServiceBlockingStub raylet;
  private Address address;
  private volatile CoreWorker core;

  /**
   * A worker (not started).
   *
   * @param config what the raylet told it
   * @param exitAction how the process exits when asked to (System.exit in a real
   *     worker; tests pass something gentler)
   */
  public JavaWorker(WorkerConfig config, Runnable exitAction) {
    this.config = config;
    this.exitAction = exitAction;
    this.nodeId = config.nodeId;
    this.storeName = config.storeName;
    this.loader = new CodeSearchPath(config.codeSearchPath, JavaWorker.class.getClassLoader());
    this.executor = new TaskExecutor(this, new FunctionResolver(loader));
  }

  /**
   * Starts the server on an ephemeral port of the node's IP and registers with the raylet.
   *
   * @throws IOException when the server cannot bind
   * @throws IllegalStateException when the store library does not load, the store does
   *     not open, or the raylet refuses or cannot be reached
   */
  public void start() throws IOException {
    // Open the store first: a library that does not load is a startup failure with a
    // reason (docs/architecture.md), not an error on the first large result.
    try {
      store();
    } catch (RuntimeException | LinkageError e) {
      throw new IllegalStateException("cannot open the node's object store " + storeName + ": " + e.getMessage()
          + " (set -Dpolyray.store.library=<path of libpolyray_store.so>)", e);
    }
    server = Auth.transport(NettyServerBuilder.forAddress(new InetSocketAddress(config.nodeIp, 0)))
        .maxInboundMessageSize(RuntimeSpec.RPC_MAX_MESSAGE_BYTES)
        .permitKeepAliveTime(5, TimeUnit.SECONDS)
        .permitKeepAliveWithoutCalls(true)
        // Every handler only queues work or answers at once: run them on the network
        // thread, saving a thread hand-off per message on the hot path.
        .directExecutor()
        .addService(Validation.guarded(new CoreWorkerServiceImpl(this)))
        .intercept(Auth.serverInterceptor()) // every call: the cluster token (docs/security.md)
        .build()
        .start();
    // The push port carries PushTasks without gRPC for callers that speak it (PushPort);
    // POLYRAY_PUSH_PORT=0 turns it off, to compare the two.
    if (!"0".equals(System.getenv("POLYRAY_PUSH_PORT"))) {
      pushPort = new PushPort(executor, config.nodeIp);
    }
    int push = pushPort == null ? 0 : pushPort.port();
    address = Address.newBuilder().setNodeId(config.nodeId).setHost(config.nodeIp).setPort(server.getPort())
        .setWorkerId(config.workerId).setPushPort(push).build();
    rayletChannel = Rpc.channel(config.rayletAddress);
    raylet = RayletServiceGrpc.newBlockingStub(rayletChannel);
    RegisterWorkerReply reply;
    try {
      reply = raylet.withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, TimeUnit.SECONDS).registerWorker(
          RegisterWorkerRequest.newBuilder()
              .setWorkerId(config.workerId)
              .setLanguage(Language.JAVA)
              .setPid((int) ProcessHandle.current().pid())
              .setPort(server.getPort())
              .setPushPort(push)
              .setJobId(config.jobId)
              .setStartupToken(config.startupToken)
              .setIsDriver(false)
              .build());
    } catch (StatusRuntimeException e) {
      throw new IllegalStateException("cannot register with the raylet at " + config.rayletAddress + ": "
          + e.getStatus().getCode() + ": " + e.getStatus().getDescription(), e);
    }
    if (!reply.getNodeId().isEmpty()) {
      nodeId = reply.getNodeId();
    }
    if (!reply.getStoreName().isEmpty() && !reply.getStoreName().equals(storeName)) {
      synchronized (storeLock) {
        storeName = reply.getStoreName(); // the raylet's word wins; reopen on next use
        SharedStore old = store;
        store = null;
        if (old != null) {
          old.close();
        }
      }
    }
    // The CoreWorker of tasks that submit tasks, put objects or call actors; it shares
    // this worker's address (its server answers for the objects the core owns).
    CoreWorker.Options o = new CoreWorker.Options();
    o.isDriver = false;
    o.gcsAddress = config.gcsAddress;
    o.rayletAddress = config.rayletAddress;
    o.nodeId = nodeId;
    o.storeName = storeName;
    o.jobId = config.jobId;
    o.workerId = config.workerId;
    o.codeSearchPath = config.codeSearchPath;
    o.store = this::store;
    CoreWorker c = new CoreWorker(o);
    c.setAddress(address.toBuilder().setNodeId(nodeId).build());
    core = c;
  }

  /**
   * Makes {@code PolyRay.task/actor/get/put} work inside this process's tasks (a worker
   * process does this; in-process tests that also run a driver do not).
   */
  public void installApiRuntime() {
    io.polyray.api.spi.Runtimes.install(new WorkerRuntime(core));
  }

  /**
   * The worker's CoreWorker (after {@link #start()}).
   *
   * @return the core, or null before start
   */
  public CoreWorker core() {
    return core;
  }

  /**
   * Runs pushed tasks on the calling thread until {@link #shutdown()}.
   */
  public void runTasks() {
    Thread.currentThread().setContextClassLoader(loader);
    executor.runLoop();
  }

  /**
   * The port the CoreWorkerService listens on.
   *
   * @return the port (after {@link #start()})
   */
  public int port() {
    return server.getPort();
  }

  /**
   * This worker's address.
   *
   * @return node, host, port and worker ID (after {@link #start()})
   */
  public Address address() {
    return address;
  }

  /**
   * The configuration.
   *
   * @return what the worker was started with
   */
  public WorkerConfig config() {
    return config;
  }

  /**
   * The task executor.
   *
   * @return the executor
   */
  public TaskExecutor executor() {
    return executor;
  }

  Codec codec() {
    CoreWorker c = core;
    return c == null ? codec : c.codec();
  }

  /** The running task's puts and nested tasks belong to it. */
  void enterTask(io.polyray.runtime.proto.TaskSpec spec) {
    CoreWorker c = core;
    if (c != null) {
      c.enterTask(spec);
    }
  }

  void exitTask() {
    CoreWorker c = core;
    if (c != null) {
      c.exitTask();
    }
  }

  /**
   * Before a result leaves: borrow registrations made while the task ran reach their
   * owners first, so no owner frees an object this worker still holds.
   */
  void flushBorrows() {
    CoreWorker c = core;
    if (c != null && c.hasPendingBorrows()) {
      c.flushBorrows(RuntimeSpec.RPC_TIMEOUT_S * 1000);
    }
  }

  /** Owned references inside a return value stay alive until the caller borrows them. */
  void lend(java.util.List<ObjectRef> nested) {
    CoreWorker c = core;
    if (c != null && !nested.isEmpty()) {
      c.lend(nested);
    }
  }

  /** As {@link #lend(java.util.List)}, for a caller that acknowledges lends (the reference protocol). */
  void lend(java.util.List<ObjectRef> nested, io.polyray.runtime.proto.Address caller) {
    CoreWorker c = core;
    if (c != null && !nested.isEmpty()) {
      c.lend(nested, caller);
    }
  }

  ByteString nodeId() {
    return nodeId;
  }

  /** Exit after a short delay (lets the reply that asked for it go out). */
  void exitSoon() {
    Thread t = new Thread(() -> {
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      // The task events of the last flush interval reach the GCS (bounded: the GCS may be away).
      CoreWorker c = core;
      if (c != null && c.taskEvents != null) {
        c.taskEvents.close(1000);
      }
      System.out.flush();
      System.err.flush();
      exitAction.run();
    }, "polyray-exit");
    t.setDaemon(true);
    t.start();
  }

  /** Exit now (a forced cancel of a running task: Ray's semantics). */
  void exitNow() {
    System.out.flush();
    System.err.flush();
    exitAction.run();
  }

  /** The node's store, opened on first use. */
  SharedStore store() {
    SharedStore s = store;
    if (s == null) {
      synchronized (storeLock) {
        s = store;
        if (s == null) {
          s = SharedStore.open(storeName);
          store = s;
        }
      }
    }
    return s;
  }

  private ManagedChannel ownerChannel(Address owner) {
    return ownerChannels.computeIfAbsent(Rpc.target(owner), Rpc::channel);
  }

  // -------------------------------------------------------------- objects

  /** A value fetched for an argument, and what keeps the memory it views alive. */
  static final class Fetched {
    final Object value;
    final KeepAlive keepAlive;

    Fetched(Object value, KeepAlive keepAlive) {
      this.value = value;
      this.keepAlive = keepAlive;
    }
  }

  /** How many times one argument fetch asks its owner to recompute a lost object. */
  private static final int MAX_LOST_ASKS = 8;

  /**
   * The value of an ObjectRef argument: asks its owner (GetObject), then reads it inline
   * or from this node's store (zero copy). ndarrays stay NdArray views.
   *
   * @param ref the reference
   * @param what names the argument in errors
   * @return the decoded value
   * @throws TaskFailure when the object is an error, lost, or unreadable
   */
  Fetched fetch(ObjectRef ref, String what) throws TaskFailure {
    ByteString oid = ref.getObjectId();
    Address owner = ref.getOwner();
    CoreWorkerServiceGrpc.CoreWorkerServiceBlockingStub stub =
        CoreWorkerServiceGrpc.newBlockingStub(ownerChannel(owner));
    GetObjectRequest req = GetObjectRequest.newBuilder().setObjectId(oid)
        .setTimeoutMs(RuntimeSpec.RPC_GET_OBJECT_WAIT_MS).build();
    int lostAsks = 0;
    while (true) {
      GetObjectReply reply;
      try {
        reply = stub.withDeadlineAfter(Rpc.GET_OBJECT_DEADLINE_S, TimeUnit.SECONDS).getObject(req);
        req = req.toBuilder().setLost(false).build();
      } catch (StatusRuntimeException e) {
        if (Thread.currentThread().isInterrupted() || e.getStatus().getCode() == Status.Code.CANCELLED) {
          throw new TaskFailure(ErrorRecords.system(ErrorKind.TASK_CANCELLED,
              "the task was cancelled while waiting for " + what));
        }
        // Nothing listens at the owner's address: OWNER_DIED (REASON_OWNER_DIED), else lost.
        ErrorRecord r = ErrorRecords.ownerUnreachable(Hex.of(oid.toByteArray()), Rpc.target(owner),
            e.getStatus().getCode());
        throw new TaskFailure(r.toBuilder().setMessage(r.getMessage() + " (" + what + ")").build());
      }
      if (reply.getTimedOut()) {
        continue; // the owner is alive and the object not ready yet: ask again
      }
      if (!reply.getFound()) {
        ErrorRecord f = reply.hasFailure() ? reply.getFailure() : ErrorRecords.system(ErrorKind.OBJECT_LOST,
            "the owner at " + Rpc.target(owner) + " does not know object " + Hex.of(oid.toByteArray()));
        throw argumentError(f, what);
      }
      if (reply.getObject().hasValue()) {
        Envelope env = reply.getObject().getValue();
        if (env.getFormat() == Format.FORMAT_ERROR) {
          throw argumentError((ErrorRecord) codec().decode(env), what);
        }
        return new Fetched(decode(env, what), null);
      }
      ByteString node = reply.getObject().getInStoreNode();
      if (node.isEmpty() && reply.getLocationsCount() > 0) {
        node = reply.getLocations(0);
      }
      if (!node.isEmpty() && !node.equals(nodeId)) {
        List<ByteString> locations = new java.util.ArrayList<>(reply.getLocationsList());
        if (!locations.contains(node)) {
          locations.add(0, node);
        }
        try {
          puller().pull(oid, locations, owner);
        } catch (io.polyray.api.exception.ObjectLostException e) {
          if (lostAsks++ < MAX_LOST_ASKS) {
            // No copy could be read: ask the owner again with `lost`, so it recomputes the
            // object from its lineage, and read where it says then.
            req = req.toBuilder().setLost(true).build();
            continue;
          }
          throw new TaskFailure(ErrorRecords.system(ErrorKind.OBJECT_LOST, e.getMessage() + " (" + what + ")"));
        }
        node = nodeId;
      }
      return readLocal(oid, node, what);
    }
  }

  private Object decode(Envelope env, String what) throws TaskFailure {
    try {
      return codec().decode(env, false);
    } catch (IllegalArgumentException e) {
      throw new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalArgumentException",
          what + " cannot be decoded in Java: " + e.getMessage()));
    }
  }

  private io.polyray.runtime.core.ObjectPuller puller;

  private synchronized io.polyray.runtime.core.ObjectPuller puller() {
    if (puller == null) {
      puller = new io.polyray.runtime.core.ObjectPuller(config.gcsAddress, this::store, () -> nodeId);
    }
    return puller;
  }

  private Fetched readLocal(ByteString oid, ByteString node, String what) throws TaskFailure {
    String hex = Hex.of(oid.toByteArray());
    if (!node.isEmpty() && !node.equals(nodeId)) {
      throw new TaskFailure(ErrorRecords.system(ErrorKind.OBJECT_LOST, "object " + hex + " (" + what
          + ") is held on node " + Hex.of(node.toByteArray()).substring(0, 12)
          + ", not on this one (fetch pulls such objects first)"));
    }
    ObjectView view;
    try {
      view = store().getOne(ObjectId.fromBytes(oid.toByteArray()), RuntimeSpec.RPC_STORE_WAIT_MS);
    } catch (StoreTimeoutException e) {
      throw new TaskFailure(ErrorRecords.system(ErrorKind.OBJECT_LOST, "object " + hex + " (" + what
          + ") is not in this node's store (freed or evicted)"));
    } catch (RuntimeException e) {
      throw new TaskFailure(ErrorRecords.runtimeError(e.getClass().getName(), "cannot read object " + hex
          + " (" + what + ") from the node's store " + storeName + ": " + e.getMessage()));
    }
    KeepAlive keepAlive = new KeepAlive(view);
    try {
      StoredEnvelope stored = StoreLayout.unpack(view.metadata(), view.data());
      if (stored.format() == Format.FORMAT_ERROR) {
        ErrorRecord r = (ErrorRecord) codec().decode(stored, false, null);
        throw argumentError(r, what);
      }
      return new Fetched(codec().decode(stored, false, keepAlive), keepAlive);
    } catch (IllegalArgumentException e) {
      keepAlive.releaseIfUnused();
      throw new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalArgumentException",
          what + " (object " + hex + ") cannot be decoded in Java: " + e.getMessage()));
    } catch (TaskFailure e) {
      keepAlive.releaseIfUnused();
      throw e;
    }
  }

  /**
   * An argument that is an error value: the task fails with the same kind and type, the
   * argument's record as the cause (as a Python worker re-raises it).
   */
  static TaskFailure argumentError(ErrorRecord r, String what) {
    return new TaskFailure(ErrorRecord.newBuilder()
        .setKind(r.getKind())
        .setTypeName(r.getTypeName())
        .setMessage(what + " is an error: " + r.getMessage())
        .setLanguage(Language.JAVA)
        .setCause(r)
        .build());
  }

  /**
   * Writes an encoded return value into this node's store under {@code oid} (sealed when this
   * returns) and queues the raylet's pin of it for {@code owner} through the CoreWorker's
   * batched {@code StorePins}, as puts are (docs/ownership.md, "Pins"); this process holds a
   * pin of its own until the raylet answered, so the object cannot be evicted in between. The
   * task's result names the object only once the future completed true ({@link
   * TaskExecutor}: all of a task's stored returns are waited for together).
   *
   * @param oid the return's ObjectID
   * @param enc the value
   * @param owner the owner of the return (the task's caller)
   * @return completes with whether the raylet pinned it
   */
  java.util.concurrent.CompletableFuture<Boolean> putInStore(ByteString oid, Encoded enc, Address owner) {
    CoreWorker c = core;
    if (c != null) {
      return c.putInStoreAsync(oid, enc, owner);
    }
    putInStoreNow(oid, enc, owner);
    return java.util.concurrent.CompletableFuture.completedFuture(true);
  }

  /** Before the CoreWorker exists: one synchronous PinObjects. */
  @SuppressWarnings("try") // the view is held for its pin only
  private void putInStoreNow(ByteString oid, Encoded enc, Address owner) {
    SharedStore s = store();
    ObjectId id = ObjectId.fromBytes(oid.toByteArray());
    StoreWrites.writeSealed(s, id, enc);
    try (ObjectView pin = s.getOne(id, 5_000)) {
      PinObjectsReply reply = raylet.withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, TimeUnit.SECONDS)
          .pinObjects(PinObjectsRequest.newBuilder().addObjectIds(oid).setOwner(owner).build());
      if (reply.getPinnedCount() > 0 && !reply.getPinned(0)) {
        throw new IllegalStateException("the raylet could not pin object " + Hex.of(oid.toByteArray())
            + " in store " + storeName);
      }
    }
  }

  // -------------------------------------------------------------- shutdown

  /** Stops the task loop, the server and the channels; closes the store. */
  public void shutdown() {
    executor.stop();
    CoreWorker c = core;
    if (c != null) {
      io.polyray.api.spi.PolyRayRuntime rt = io.polyray.api.spi.Runtimes.current();
      if (rt instanceof WorkerRuntime && ((WorkerRuntime) rt).core() == c) {
        io.polyray.api.spi.Runtimes.uninstall(rt);
      }
      c.shutdown();
    }
    if (server != null) {
      server.shutdownNow();
    }
    if (pushPort != null) {
      pushPort.close();
    }
    if (rayletChannel != null) {
      rayletChannel.shutdownNow();
    }
    for (ManagedChannel ch : ownerChannels.values()) {
      ch.shutdownNow();
    }
    SharedStore s = store;
    if (s != null) {
      s.close();
    }
  }

  @Override
  public void close() {
    shutdown();
  }
}

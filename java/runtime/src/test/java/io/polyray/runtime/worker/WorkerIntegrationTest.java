package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.codec.Encoded;
import io.polyray.runtime.codec.NdArray;
import io.polyray.runtime.codec.StoreLayout;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.AddObjectLocationRequest;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ErrorRecord;
import io.polyray.runtime.proto.ExitRequest;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.FunctionDescriptor;
import io.polyray.runtime.proto.GetObjectReply;
import io.polyray.runtime.proto.GetObjectRequest;
import io.polyray.runtime.proto.JavaFunctionDescriptor;
import io.polyray.runtime.proto.KeywordArg;
import io.polyray.runtime.proto.Language;
import io.polyray.runtime.proto.ObjectRef;
import io.polyray.runtime.proto.PinObjectsRequest;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.RegisterWorkerRequest;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.TaskArg;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.proto.UpdateBorrowsRequest;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.ref.ObjectRefImpl;
import io.polyray.runtime.ref.RefHooks;
import io.polyray.runtime.store.ObjectBuilder;
import io.polyray.runtime.store.ObjectId;
import io.polyray.runtime.store.ObjectView;
import io.polyray.runtime.store.SharedStore;
import io.polyray.runtime.worker.fixtures.Calc;
import io.polyray.runtime.worker.fixtures.Counter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Java worker's CoreWorker server, in process, against a fake raylet and owner on a
 * real gRPC server, with a real shared store: tasks go over a real PushTasks stream.
 */
class WorkerIntegrationTest {
  static final String CALC = Calc.class.getName();
  static final String COUNTER = Counter.class.getName();
  static final Codec CODEC = new Codec(RefHooks.INSTANCE);

  static SharedStore store;
  static FakeNode node;
  static JavaWorker worker;
  static Thread runner;
  static ManagedChannel channel;
  static final AtomicInteger exits = new AtomicInteger();

  @BeforeAll
  static void start() throws Exception {
    store = SharedStore.create("/polyray-jworker-" + ProcessHandle.current().pid(), 64L << 20);
    node = new FakeNode(store);
    WorkerConfig config = new WorkerConfig(node.address(), "", node.nodeId, FakeNode.randomBytes(28),
        ByteString.copyFrom(new byte[] {1, 0, 0, 0}), "token-7", store.name(), List.of("/nonexistent"),
        "127.0.0.1");
    worker = new JavaWorker(config, exits::incrementAndGet);
    worker.start();
    runner = new Thread(worker::runTasks, "test-task-runner");
    runner.start();
    channel = Rpc.channel("127.0.0.1:" + worker.port());
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow();
    worker.shutdown();
    runner.join(5000);
    node.close();
    String name = store.name();
    store.close();
    SharedStore.unlink(name);
  }

  // ------------------------------------------------------------ helpers

  static TaskSpec.Builder spec(TaskType type, String cls, String method, Object... args) {
    TaskSpec.Builder b = TaskSpec.newBuilder()
        .setType(type)
        .setLanguage(Language.JAVA)
        .setFunction(FunctionDescriptor.newBuilder().setJava(
            JavaFunctionDescriptor.newBuilder().setClassName(cls).setMethodName(method)))
        .setJobId(ByteString.copyFrom(new byte[] {1, 0, 0, 0}))
        .setTaskId(FakeNode.randomBytes(24))
        .setCaller(node.ownerAddress())
        .setCallerLanguage(Language.PYTHON)
        .setNumReturns(type == TaskType.ACTOR_CREATION_TASK ? 0 : 1)
        .setName(cls.substring(cls.lastIndexOf('.') + 1) + "." + method);
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      if (a instanceof ObjectRef) {
        b.addArgs(TaskArg.newBuilder().setRef((ObjectRef) a));
      } else {
        Encoded e = CODEC.encode(a, "argument " + i);
        b.addArgs(TaskArg.newBuilder().setValue(e.toEnvelope()).addAllNestedRefs(e.nestedRefs()));
      }
    }
    return b;
  }

  static TaskSpec task(String cls, String method, Object... args) {
    return spec(TaskType.NORMAL_TASK, cls, method, args).build();
  }

  /** Pushes tasks over one stream (one request per group) and waits for every result. */
  static List<PushTasksReply> push(List<List<TaskSpec>> groups) throws Exception {
    List<PushTasksReply> replies = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    StreamObserver<PushTasksRequest> req = CoreWorkerServiceGrpc.newStub(channel)
        .withDeadlineAfter(60, TimeUnit.SECONDS)
        .pushTasks(new StreamObserver<PushTasksReply>() {
          @Override
          public void onNext(PushTasksReply r) {
            replies.add(r);
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        });
    for (List<TaskSpec> g : groups) {
      req.onNext(PushTasksRequest.newBuilder().addAllTasks(g).build());
    }
    req.onCompleted();
    done.get(60, TimeUnit.SECONDS);
    return replies;
  }

  /** Results in the order the tasks were given. */
  static List<TaskResult> run(TaskSpec... tasks) throws Exception {
    List<TaskResult> all = new ArrayList<>();
    for (PushTasksReply r : push(List.of(List.of(tasks)))) {
      all.addAll(r.getResultsList());
    }
    assertEquals(tasks.length, all.size());
    List<TaskResult> ordered = new ArrayList<>();
    for (TaskSpec t : tasks) {
      ordered.add(all.stream().filter(r -> r.getTaskId().equals(t.getTaskId())).findFirst().orElseThrow());
    }
    return ordered;
  }

  static Object value(TaskResult r) {
    assertEquals(1, r.getReturnsCount(), r.toString());
    ReturnObject ro = r.getReturns(0);
    assertTrue(ro.hasValue(), "inline value expected");
    assertFalse(r.getIsApplicationError());
    assertEquals(Format.FORMAT_XLANG, ro.getValue().getFormat(), () -> "not XLANG: " + error(r));
    return CODEC.decode(ro.getValue());
  }

  static ErrorRecord error(TaskResult r) {
    Envelope env = r.getReturns(0).getValue();
    assertEquals(Format.FORMAT_ERROR, env.getFormat());
    return (ErrorRecord) CODEC.decode(env);
  }

  static ObjectRef ref(ByteString oid) {
    return ObjectRef.newBuilder().setObjectId(oid).setOwner(node.ownerAddress()).build();
  }

  // ------------------------------------------------------------ tests

  @Test
  void registersWithTheRaylet() {
    RegisterWorkerRequest r = node.registrations.get(0);
    assertEquals(Language.JAVA, r.getLanguage());
    assertEquals(ProcessHandle.current().pid(), r.getPid());
    assertEquals(worker.port(), r.getPort());
    assertEquals("token-7", r.getStartupToken());
    assertEquals(worker.config().workerId, r.getWorkerId());
    assertFalse(r.getIsDriver());
  }

  @Test
  void staticMethods() throws Exception {
    TaskSpec add = task(CALC, "add", 2, 3);
    List<TaskResult> rs = run(add, task(CALC, "concat", "a", "b"), task(CALC, "noop"),
        spec(TaskType.NORMAL_TASK, CALC, "noop").setNumReturns(0).build(),
        task(CALC + "$Inner", "hello", "nested"),
        spec(TaskType.NORMAL_TASK, CALC, "pair", 7, "x").setNumReturns(2).build(),
        task(CALC, "sum", Arrays.asList(1, 2, 3)),
        task(CALC, "sumArray", new long[] {4, 5}),
        task(CALC, "sizeOf", Map.of("k", Arrays.asList(1, 2))));
    assertEquals(5L, value(rs.get(0)));
    assertEquals(Ids.returnId(add.getTaskId(), 1), rs.get(0).getReturns(0).getObjectId());
    assertEquals("ab", value(rs.get(1)));
    assertNull(value(rs.get(2)), "void returns nil");
    assertEquals(0, rs.get(3).getReturnsCount());
    assertEquals("hello nested", value(rs.get(4)));
    assertEquals(2, rs.get(5).getReturnsCount());
    assertEquals(7L, CODEC.decode(rs.get(5).getReturns(0).getValue()));
    assertEquals("x", CODEC.decode(rs.get(5).getReturns(1).getValue()));
    assertEquals(6L, value(rs.get(6)));
    assertEquals(9L, value(rs.get(7)));
    assertEquals(2L, value(rs.get(8)));
  }

  @Test
  void anActorRunsItsCallsInOrder() throws Exception {
    ByteString actorId = FakeNode.randomBytes(16);
    TaskSpec.Builder cb = spec(TaskType.ACTOR_CREATION_TASK, COUNTER, "<init>", 10).setActorId(actorId);
    // Counter has three one-argument constructors: without a signature the call is ambiguous.
    ErrorRecord ambiguous = error(run(cb.clone().setTaskId(FakeNode.randomBytes(24)).build()).get(0));
    assertTrue(ambiguous.getMessage().startsWith("ambiguous call"), ambiguous.getMessage());
    cb.getFunctionBuilder().getJavaBuilder().setSignature("(J)V");
    List<TaskResult> created = run(cb.build());
    assertTrue(created.get(0).getActorReady());
    assertEquals(0, created.get(0).getReturnsCount());
    assertInstanceOf(Counter.class, worker.executor().actor());

    ByteString caller = FakeNode.randomBytes(28);
    List<TaskSpec> calls = new ArrayList<>();
    for (int i = 1; i <= 3; i++) {
      calls.add(spec(TaskType.ACTOR_TASK, COUNTER, "add", i).setActorId(actorId).setSequenceNo(i)
          .setCallerWorkerId(caller).build());
    }
    // Three separate messages on one stream, then inherited, default and failing methods.
    List<List<TaskSpec>> groups = new ArrayList<>();
    for (TaskSpec c : calls) {
      groups.add(List.of(c));
    }
    TaskSpec history = spec(TaskType.ACTOR_TASK, COUNTER, "history").setActorId(actorId).build();
    TaskSpec get = spec(TaskType.ACTOR_TASK, COUNTER, "get").setActorId(actorId).build();
    TaskSpec greet = spec(TaskType.ACTOR_TASK, COUNTER, "greet", "ann").setActorId(actorId).build();
    TaskSpec boom = spec(TaskType.ACTOR_TASK, COUNTER, "boom").setActorId(actorId).build();
    TaskSpec wrongActor = spec(TaskType.ACTOR_TASK, COUNTER, "get").setActorId(FakeNode.randomBytes(16)).build();
    groups.add(List.of(history, get, greet, boom, wrongActor));
    List<TaskResult> all = new ArrayList<>();
    for (PushTasksReply r : push(groups)) {
      all.addAll(r.getResultsList());
    }
    assertEquals(8, all.size());
    for (int i = 0; i < 3; i++) {
      assertEquals(calls.get(i).getTaskId(), all.get(i).getTaskId(), "results in arrival order");
    }
    assertEquals(11L, value(all.get(0)));
    assertEquals(13L, value(all.get(1)));
    assertEquals(16L, value(all.get(2)));
    assertEquals(List.of(11L, 13L, 16L), value(all.get(3)));
    assertEquals(16L, value(all.get(4)));
    assertEquals("counter greets ann", value(all.get(5)));
    assertTrue(all.get(6).getIsApplicationError());
    assertEquals("java.lang.UnsupportedOperationException", error(all.get(6)).getTypeName());
    assertEquals(ErrorKind.ACTOR_DIED, error(all.get(7)).getKind());

    // One actor per worker.
    TaskResult again = run(spec(TaskType.ACTOR_CREATION_TASK, COUNTER, "<init>").setActorId(FakeNode.randomBytes(16))
        .build()).get(0);
    assertFalse(again.getActorReady());
    assertEquals(1, again.getReturnsCount(), "a failed creation has one ERROR return");
    assertTrue(error(again).getMessage().contains("already hosts actor"));
  }

  @Test
  void userExceptionsBecomeTaskErrors() throws Exception {
    TaskResult r = run(task(CALC, "fail", "bad input")).get(0);
    assertTrue(r.getIsApplicationError());
    ErrorRecord e = error(r);
    assertEquals(ErrorKind.TASK_ERROR, e.getKind());
    assertEquals("java.lang.IllegalStateException", e.getTypeName());
    assertEquals("bad input", e.getMessage());
    assertEquals(Language.JAVA, e.getLanguage());
    assertTrue(e.getTraceback().contains("at " + CALC + ".fail(Calc.java:"), e.getTraceback());
    assertFalse(e.getTraceback().contains("reflect"), "runtime frames are cut: " + e.getTraceback());
    assertEquals("java.lang.IllegalArgumentException", e.getCause().getTypeName());
    assertEquals("root cause", e.getCause().getMessage());
  }

  @Test
  void runtimeErrorsLeaveTheWorkerUp() throws Exception {
    List<TaskResult> rs = run(
        task(CALC, "nope"),
        task("com.example.Missing", "f"),
        task(CALC, "add", "x", 1),
        task(CALC, "add", 1),
        task(CALC, "twice", 2),
        spec(TaskType.NORMAL_TASK, CALC, "add", 1, 2)
            .addKwargs(KeywordArg.newBuilder().setName("c").setArg(TaskArg.newBuilder()
                .setValue(CODEC.encode(3).toEnvelope()))).build(),
        task(CALC, "thread"),
        task(CALC, "add", 20, 22));
    String[] expect = {
        "has no public static method named 'nope'",
        "class com.example.Missing was not found in the code search path [/nonexistent (missing)]",
        "argument 0 of " + CALC + ".add(long, long): expected long, got XLANG str \"x\"",
        "wrong number of arguments: the call passed 1",
        "ambiguous call: " + CALC + ".twice has 2 overloads taking 1 argument",
        "keyword arguments are not supported for Java callees",
        "the return value of " + CALC + ".thread() (java.lang.Thread) has no XLANG form",
    };
    for (int i = 0; i < expect.length; i++) {
      TaskResult r = rs.get(i);
      assertFalse(r.getIsApplicationError());
      ErrorRecord e = error(r);
      assertEquals(ErrorKind.RUNTIME_ERROR, e.getKind(), e.toString());
      assertEquals(Language.JAVA, e.getLanguage());
      assertTrue(e.getMessage().contains(expect[i]), i + ": " + e.getMessage());
    }
    assertEquals(42L, value(rs.get(7)), "the worker stayed up");
    assertEquals(3L, value(run(task(CALC, "add", 1, 2)).get(0)), "and serves a new stream");
  }

  @Test
  void largeReturnsGoThroughTheStore() throws Exception {
    TaskSpec t = task(CALC, "range", 20_000); // 160 KB > 100 KiB
    TaskResult r = run(t).get(0);
    ReturnObject ro = r.getReturns(0);
    assertFalse(ro.hasValue());
    assertEquals(node.nodeId, ro.getInStoreNode());
    assertTrue(ro.getSize() > 160_000);
    PinObjectsRequest pin = node.pins.stream().filter(p -> p.getObjectIds(0).equals(ro.getObjectId()))
        .findFirst().orElseThrow();
    assertEquals(t.getCaller(), pin.getOwner());
    try (ObjectView v = store.getOne(ObjectId.fromBytes(ro.getObjectId().toByteArray()), 1000)) {
      Object back = CODEC.decode(StoreLayout.unpack(v.metadata(), v.data()), true, null);
      long[] arr = (long[]) back;
      assertEquals(20_000, arr.length);
      assertEquals(19_999L, arr[19_999]);
    }
    TaskResult bin = run(task(CALC, "bytes", 150_000)).get(0);
    assertFalse(bin.getReturns(0).hasValue());
  }

  @Test
  void objectRefArgumentsAreFetchedFromTheirOwner() throws Exception {
    ByteString inline = FakeNode.randomBytes(28);
    node.objects.put(inline, n -> n == 1
        ? GetObjectReply.newBuilder().setTimedOut(true).build() // not ready at first: asked again
        : GetObjectReply.newBuilder().setFound(true).setObject(ReturnObject.newBuilder().setObjectId(inline)
            .setValue(CODEC.encode(40).toEnvelope())).build());

    // A large array in the node's store, read as a view of shared memory.
    ByteString stored = FakeNode.randomBytes(28);
    double[] big = new double[20_000];
    Arrays.setAll(big, i -> 1.0);
    Encoded enc = CODEC.encode(big);
    StoreLayout layout = StoreLayout.of(enc);
    try (ObjectBuilder b = store.create(ObjectId.fromBytes(stored.toByteArray()), layout.dataSize(),
        layout.metadata().length)) {
      layout.write(b.data());
      b.metadata().put(layout.metadata());
      b.seal();
    }
    node.objects.put(stored, n -> GetObjectReply.newBuilder().setFound(true).setObject(ReturnObject.newBuilder()
        .setObjectId(stored).setInStoreNode(node.nodeId)).build());

    ByteString failed = FakeNode.randomBytes(28);
    ErrorRecord pyError = ErrorRecord.newBuilder().setKind(ErrorKind.TASK_ERROR).setTypeName("ZeroDivisionError")
        .setMessage("division by zero").setLanguage(Language.PYTHON).build();
    node.objects.put(failed, n -> GetObjectReply.newBuilder().setFound(true).setObject(ReturnObject.newBuilder()
        .setValue(Codec.encodeError(pyError).toEnvelope())).build());

    ByteString lost = FakeNode.randomBytes(28);

    List<TaskResult> rs = run(
        task(CALC, "add", ref(inline), 2),
        task(CALC, "sumNd", ref(stored)),
        task(CALC, "add", ref(failed), 1),
        task(CALC, "add", ref(lost), 1),
        task(CALC, "idOf", new ObjectRefImpl<Object>(ref(inline))),
        task(CALC, "echo", Arrays.asList(1, new ObjectRefImpl<Object>(ref(stored)))));
    assertEquals(42L, value(rs.get(0)));
    assertEquals(2, node.asks.get(inline));
    assertEquals(20_000.0, value(rs.get(1)));
    ErrorRecord e = error(rs.get(2));
    assertEquals("ZeroDivisionError", e.getTypeName());
    assertTrue(e.getMessage().startsWith("argument 0 of " + CALC + ".add(long, long) is an error"), e.getMessage());
    assertEquals(pyError, e.getCause());
    assertEquals(ErrorKind.OBJECT_LOST, error(rs.get(3)).getKind());
    assertEquals(Hex.of(inline.toByteArray()), value(rs.get(4)));
    assertEquals(List.of(ref(stored)), rs.get(5).getReturns(0).getNestedRefsList(), "nested refs are reported");
  }

  @Test
  void cancelQueuedAndRunningTasks() throws Exception {
    TaskSpec slow = task(CALC, "sleepy", 10_000);
    TaskSpec queued = task(CALC, "add", 1, 1);
    List<TaskResult> all = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    StreamObserver<PushTasksRequest> req = CoreWorkerServiceGrpc.newStub(channel).pushTasks(
        new StreamObserver<PushTasksReply>() {
          @Override
          public void onNext(PushTasksReply r) {
            all.addAll(r.getResultsList());
          }

          @Override
          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        });
    req.onNext(PushTasksRequest.newBuilder().addTasks(slow).addTasks(queued).build());
    CoreWorkerServiceGrpc.CoreWorkerServiceBlockingStub stub = CoreWorkerServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS);
    assertTrue(stub.cancelTask(io.polyray.runtime.proto.CancelTaskRequest.newBuilder()
        .setTaskId(queued.getTaskId()).build()).getAttempted());
    Thread.sleep(200); // let the slow task start
    assertTrue(stub.cancelTask(io.polyray.runtime.proto.CancelTaskRequest.newBuilder()
        .setTaskId(slow.getTaskId()).build()).getAttempted());
    req.onCompleted();
    done.get(8, TimeUnit.SECONDS); // far less than the 10 s sleep
    assertEquals(2, all.size());
    for (TaskResult r : all) {
      assertEquals(ErrorKind.TASK_CANCELLED, error(r).getKind(), error(r).toString());
    }
    assertEquals(2L, value(run(task(CALC, "add", 1, 1)).get(0)));
  }

  @Test
  void manyTasksOnOneStream() throws Exception {
    List<TaskSpec> ts = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      ts.add(task(CALC, "add", i, 1));
    }
    List<PushTasksReply> replies = push(List.of(ts));
    List<TaskResult> all = new ArrayList<>();
    replies.forEach(r -> all.addAll(r.getResultsList()));
    assertEquals(50, all.size());
    for (int i = 0; i < 50; i++) {
      assertEquals(ts.get(i).getTaskId(), all.get(i).getTaskId());
      assertEquals(i + 1L, value(all.get(i)));
    }
    assertTrue(replies.size() <= 50);
  }

  @Test
  void unknownObjectsAreLostAndTheOtherRpcsAnswer() {
    CoreWorkerServiceGrpc.CoreWorkerServiceBlockingStub stub = CoreWorkerServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS);
    GetObjectReply r = stub.getObject(GetObjectRequest.newBuilder().setObjectId(FakeNode.randomBytes(28)).build());
    assertFalse(r.getFound());
    assertEquals(ErrorKind.OBJECT_LOST, r.getFailure().getKind());
    assertTrue(r.getFailure().getMessage().contains("is not owned by worker"), r.getFailure().getMessage());
    // A borrower that names no worker is bad input, refused with the field named; a
    // well-formed update and location are answered.
    io.grpc.StatusRuntimeException bad = org.junit.jupiter.api.Assertions.assertThrows(
        io.grpc.StatusRuntimeException.class, () -> stub.updateBorrows(UpdateBorrowsRequest.getDefaultInstance()));
    assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, bad.getStatus().getCode());
    assertTrue(bad.getStatus().getDescription().contains("UpdateBorrowsRequest.borrower.worker_id"),
        bad.getStatus().getDescription());
    stub.updateBorrows(UpdateBorrowsRequest.newBuilder()
        .setBorrower(io.polyray.runtime.proto.Address.newBuilder().setWorkerId(FakeNode.randomBytes(28))).build());
    stub.addObjectLocation(AddObjectLocationRequest.newBuilder().setObjectId(FakeNode.randomBytes(28))
        .setNodeId(FakeNode.randomBytes(28)).build());
  }

  @Test
  void exitRequestExitsTheProcess() throws Exception {
    int before = exits.get();
    assertTrue(CoreWorkerServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .exit(ExitRequest.newBuilder().setReason("test").build()).getAccepted());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (exits.get() == before && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(before + 1, exits.get());
  }

  @Test
  void aNestedActorHandleArgumentDecodes() throws Exception {
    ActorHandle h = ActorHandle.newBuilder().setActorId(FakeNode.randomBytes(16)).setLanguage(Language.CPP)
        .setClassDescriptor(FunctionDescriptor.newBuilder().setCpp(
            io.polyray.runtime.proto.CppFunctionDescriptor.newBuilder().setClassName("Counter")
                .setFunctionName("Counter::Create"))).build();
    TaskResult r = run(task(CALC, "echo", Arrays.asList(h))).get(0);
    List<?> back = (List<?>) value(r);
    assertEquals(h, ((io.polyray.runtime.ref.CppActorHandleImpl) back.get(0)).toProto());
  }

  @Test
  void aStoreThatDoesNotOpenFailsTheStart() {
    WorkerConfig bad = new WorkerConfig(node.address(), "", node.nodeId, FakeNode.randomBytes(28),
        ByteString.copyFrom(new byte[] {1, 0, 0, 0}), "t", "/polyray-no-such-store-" + System.nanoTime(), List.of(),
        "127.0.0.1");
    JavaWorker w = new JavaWorker(bad, () -> {});
    IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, w::start);
    assertTrue(e.getMessage().startsWith("cannot open the node's object store /polyray-no-such-store-"), e.getMessage());
    w.shutdown();
  }

  @Test
  void storeObjectsAreValidLayouts() {
    assertArrayEquals(new byte[] {'P', 'R', 'Y', 'E'}, Arrays.copyOf(StoreLayout.of(CODEC.encode(1)).metadata(), 4));
    assertInstanceOf(NdArray.class, CODEC.decode(CODEC.encode(NdArray.of(new long[] {1})).toEnvelope(), false));
  }
}

package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.polyray.api.BaseActorHandle;
import io.polyray.api.ObjectRef;
import io.polyray.api.exception.PolyRayException;
import io.polyray.api.spi.CallOptions;
import io.polyray.api.spi.FunctionSpec;
import io.polyray.runtime.codec.Encoded;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.ActorHandle;
import io.polyray.runtime.proto.CppFunctionDescriptor;
import io.polyray.runtime.proto.FunctionDescriptor;
import io.polyray.runtime.proto.JavaFunctionDescriptor;
import io.polyray.runtime.proto.KeywordArg;
import io.polyray.runtime.proto.Language;
import io.polyray.runtime.proto.PythonFunctionDescriptor;
import io.polyray.runtime.proto.TaskArg;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.ref.AbstractActorHandle;
import io.polyray.runtime.ref.Hex;
import io.polyray.runtime.ref.ObjectRefImpl;
import io.polyray.runtime.spec.Policies;
import io.polyray.runtime.spec.RuntimeSpec;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Builds the specs of a {@link CoreWorker}'s tasks, actor creations and actor calls
 * (descriptors, resources, argument encoding) and hands them to the submitters; also the
 * GCS's actor look-up and kill.
 */
final class TaskSubmission {
  private final CoreWorker w;

  private final Map<ByteString, Long> actorSeq = new HashMap<>();
  /**
   * Submissions on their way to the io thread, in order: PendingTasks (normal tasks and
   * actor calls) and Runnables. One io-thread wake-up takes all that queued meanwhile,
   * and the tasks among them leave in as few PushTasks messages as possible (one per
   * lease or actor), rather than one wake-up and one message per task.
   */
  private final ConcurrentLinkedQueue<Object> toIo = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean drainScheduled = new AtomicBoolean();

  TaskSubmission(CoreWorker w) {
    this.w = w;
  }

  /** Task events: SUBMITTED (TaskEvents). */
  private void submitted(TaskSpec spec) {
    if (w.taskEvents != null) {
      w.taskEvents.record(io.polyray.runtime.proto.TaskEventState.SUBMITTED, spec);
    }
  }

  /** A task to queue; its submit time is kept for its first event (TaskEvents.queued). */
  private PendingTask pending(TaskSpec spec, List<ByteString> argIds) {
    PendingTask t = new PendingTask(spec, argIds);
    if (w.taskEvents != null) {
      t.submittedNs = TaskEvents.nowNs();
    }
    return t;
  }

  /** Queues a PendingTask or a Runnable for the io thread (in order with the others). */
  private void toIo(Object op) {
    toIo.add(op);
    if (!drainScheduled.get() && drainScheduled.compareAndSet(false, true)) {
      w.onIo(this::drain);
    }
  }

  /** On the io thread: submits everything queued, batching consecutive tasks. */
  private void drain() {
    // Cleared first: whatever is added from now on is either taken below or schedules
    // another drain.
    drainScheduled.set(false);
    List<PendingTask> normal = new ArrayList<>();
    List<PendingTask> actor = new ArrayList<>();
    for (Object op; (op = toIo.poll()) != null; ) {
      if (op instanceof PendingTask) {
        PendingTask t = (PendingTask) op;
        if (w.taskEvents != null) {
          t.spec = w.taskEvents.ownerQueued(t.spec, t.submittedNs); // times in the spec: the worker reports
        }
        (t.spec.getType() == TaskType.ACTOR_TASK ? actor : normal).add(t);
        continue;
      }
      submitAll(normal, actor);
      runSafely((Runnable) op);
    }
    submitAll(normal, actor);
  }

  private void submitAll(List<PendingTask> normal, List<PendingTask> actor) {
    if (!normal.isEmpty()) {
      List<PendingTask> batch = new ArrayList<>(normal);
      normal.clear();
      runSafely(() -> w.submitter.submitAll(batch));
    }
    if (!actor.isEmpty()) {
      List<PendingTask> batch = new ArrayList<>(actor);
      actor.clear();
      if (!w.actorSubmitter.hasResolver()) {
        w.actorSubmitter.setResolver(this::resolveActorArgs);
      }
      runSafely(() -> w.actorSubmitter.submitAll(batch));
    }
  }

  /**
   * (Io thread.) Whether an actor call must wait for top-level ref arguments (owned here or
   * borrowed) that are not ready; if so {@code onReady} runs on the io thread once all are
   * (value or error). Borrowed ones are fetched from their owners meanwhile.
   */
  private boolean resolveActorArgs(PendingTask t, Runnable onReady) {
    List<ByteString> waiting = new ArrayList<>();
    List<io.polyray.runtime.proto.ObjectRef> borrowed = new ArrayList<>();
    List<TaskArg> args = new ArrayList<>(t.spec.getArgsList());
    for (KeywordArg kw : t.spec.getKwargsList()) {
      args.add(kw.getArg());
    }
    for (TaskArg a : args) {
      if (!a.hasRef() || w.memoryStore.getIfReady(a.getRef().getObjectId()) != null) {
        continue;
      }
      waiting.add(a.getRef().getObjectId());
      if (!a.getRef().getOwner().getWorkerId().equals(w.workerId)) {
        borrowed.add(a.getRef());
      }
    }
    if (waiting.isEmpty()) {
      return false;
    }
    if (!borrowed.isEmpty()) {
      w.getter.fetchBorrowed(borrowed);
    }
    AtomicInteger left = new AtomicInteger(waiting.size());
    for (ByteString oid : waiting) {
      w.memoryStore.future(oid).thenRun(() -> {
        if (left.decrementAndGet() == 0) {
          w.onIo(onReady);
        }
      });
    }
    return true;
  }

  private static void runSafely(Runnable r) {
    try {
      r.run();
    } catch (RuntimeException e) {
      // As an executor task would: this one fails, the others still run.
      System.err.println("polyray: submission failed on the io thread: " + e);
    }
  }

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
    if (w.shuttingDown) {
      throw new IllegalStateException("the polyray runtime is shut down");
    }
    return TaskSpec.newBuilder()
        .setType(type)
        .setLanguage(language)
        .setFunction(fd)
        .setJobId(w.jobId)
        .setTaskId(Ids.taskId(w.jobId))
        .setParentTaskId(w.context().taskId)
        .setCaller(w.address)
        .setCallerLanguage(Language.JAVA) // results come back as XLANG, which Java reads
        .setName(name)
        .addAllCodeSearchPath(w.codeSearchPath)
        .setRuntimeEnv(w.runtimeEnv);
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
        ObjectRefImpl<?> ref = CoreWorker.check((ObjectRef<?>) a);
        ids.add(ref.toProto().getObjectId());
        spec.addArgs(TaskArg.newBuilder().setRef(ref.toProto()));
        continue;
      }
      Encoded enc;
      try {
        // A Java callee reads Serializable values with no XLANG form as Java-native values.
        enc = w.codec.encode(a, "argument " + i + " of " + callee, spec.getLanguage() == Language.JAVA);
      } catch (io.polyray.runtime.codec.XlangTypeException e) {
        throw new io.polyray.runtime.codec.XlangTypeException(e.getMessage() + " (the callee " + callee
            + " is a " + languageName(spec.getLanguage()) + " function; nothing was sent)", e.path(), e.typeName());
      }
      if (!Policies.travelsInline(enc.size())) {
        ByteString oid = w.nextPutId();
        w.references.addOwned(oid);
        ObjectRefImpl<?> ref = w.ownedRef(oid, null);
        held.add(ref); // reachable until the task counts it as submitted
        w.owned.storeOwned(oid, enc);
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
    // A task's explicit CPU 0 travels as CPU: 0: the raylet adds Ray's default 1 CPU only
    // when a normal task names no CPU amount, so such a task needs no CPU at all.
    o.getResources().forEach((k, v) -> {
      if (v > 0 || (defaultCpus > 0 && k.equals("CPU"))) {
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
    @SuppressWarnings("unchecked")
    ObjectRef<R> ref = (ObjectRef<R>) submitNormal(fn, args, o, fn.getReturnType(), null).get(0);
    return ref;
  }

  /**
   * Submits a normal task with {@code o.getNumReturns()} return values.
   *
   * @param fn what to run
   * @param args values or ObjectRefs
   * @param o options
   * @return the references of its returns (owned here), in order
   */
  @SuppressWarnings("unchecked")
  public List<ObjectRef<Object>> submitTaskReturns(FunctionSpec fn, Object[] args, CallOptions o) {
    return (List<ObjectRef<Object>>) (List<?>) submitNormal(fn, args, o, o.getNumReturns() == 1 ? fn.getReturnType()
        : null, null);
  }

  /** A streaming generator task (GeneratorStreams): its items' refs as they come. */
  <T> io.polyray.api.ObjectRefGenerator<T> submitTaskGenerator(FunctionSpec fn, Object[] args, CallOptions o) {
    GeneratorStreams.Stream[] opened = new GeneratorStreams.Stream[1];
    return generatorOf(opened, submitNormal(fn, args, o, fn.getReturnType(), opened).get(0));
  }

  /** A streaming generator actor call: its items' refs as they come. */
  <T> io.polyray.api.ObjectRefGenerator<T> submitActorTaskGenerator(BaseActorHandle actor, FunctionSpec fn,
      Object[] args, CallOptions o) {
    GeneratorStreams.Stream[] opened = new GeneratorStreams.Stream[1];
    return generatorOf(opened, submitActorCall(actor, fn, args, o, fn.getReturnType(), opened).get(0));
  }

  /** TaskSpec.generator of a streaming generator task (python/polyray/core/generators.py). */
  static final int GENERATOR_STREAMING = 2;

  @SuppressWarnings("unchecked")
  private <T> io.polyray.api.ObjectRefGenerator<T> generatorOf(GeneratorStreams.Stream[] opened, ObjectRef<?> end) {
    return w.generators.generator(opened[0], (ObjectRef<Long>) end);
  }

  private List<ObjectRef<?>> submitNormal(FunctionSpec fn, Object[] args, CallOptions o, java.lang.reflect.Type type,
      GeneratorStreams.Stream[] opened) {
    int generator = opened == null ? 0 : GENERATOR_STREAMING;
    if (fn.getKind() != FunctionSpec.Kind.TASK) {
      throw new IllegalArgumentException(fn + " is not a task");
    }
    String name = o.getName().isEmpty() ? fn.displayName() : o.getName();
    checkNumReturns(o, fn.getLanguage(), name);
    checkGenerator(generator, o, name);
    Map<String, Double> resources = resources(o, 1.0);
    SchedulingStrategies.checkFitsBundle(o, resources, "task " + name);
    TaskSpec.Builder spec = newSpec(TaskType.NORMAL_TASK, protoLanguage(fn.getLanguage()), descriptor(fn), name)
        .setNumReturns(o.getNumReturns())
        .putAllResources(resources)
        .setScheduling(SchedulingStrategies.of(o, parentSpec()))
        .setMaxRetries(o.getMaxRetries() == null ? RuntimeSpec.RETRY_MAX_RETRIES : o.getMaxRetries())
        .setRetryExceptions(generator == 0 && o.isRetryExceptions())
        .setGenerator(generator);
    List<Object> held = new ArrayList<>();
    List<ByteString> argIds = buildArgs(spec, args, name, held);
    TaskSpec built = spec.build();
    List<ObjectRef<?>> refs = returnRefs(built, generator != 0 ? Long.class : type);
    if (generator != 0) {
      opened[0] = w.generators.open(built.getTaskId(), GeneratorStreams.itemType(type));
    }
    w.references.addSubmitted(argIds);
    Reference.reachabilityFence(args);
    Reference.reachabilityFence(held);
    toIo(pending(built, argIds));
    return refs;
  }

  /** The owned refs of a spec's returns; the first converts to {@code type} when there is one return. */
  private List<ObjectRef<?>> returnRefs(TaskSpec.Builder spec, java.lang.reflect.Type type) {
    List<ObjectRef<?>> refs = new ArrayList<>(spec.getNumReturns());
    for (int i = 1; i <= spec.getNumReturns(); i++) {
      ByteString ret = Ids.returnId(spec.getTaskId(), i);
      w.references.addOwned(ret);
      refs.add(w.ownedRef(ret, spec.getNumReturns() == 1 ? type : null));
    }
    return refs;
  }

  private List<ObjectRef<?>> returnRefs(TaskSpec spec, java.lang.reflect.Type type) {
    return returnRefs(spec.toBuilder(), type);
  }

  /** C++ functions and methods have one return value: more is refused at the call (as Python callers do). */
  private static void checkNumReturns(CallOptions o, io.polyray.api.Language callee, String name) {
    if (o.getNumReturns() > 1 && callee == io.polyray.api.Language.CPP) {
      throw new IllegalArgumentException("numReturns=" + o.getNumReturns() + ": the C++ callee " + name
          + " has one return value (C++ functions and methods return one value); nothing was sent");
    }
  }

  /** Generator calls (remoteGenerator): a Python, Java or C++ callee, one return (the stream's end). */
  static void checkGenerator(int generator, CallOptions o, String name) {
    if (generator == 0) {
      return;
    }
    if (o.getNumReturns() != 1) {
      throw new IllegalArgumentException("remoteGenerator() with numReturns=" + o.getNumReturns() + " (task " + name
          + "): a generator task has one stream of items; drop setNumReturns; nothing was sent");
    }
  }

  /** The spec whose placement group children inherit (SchedulingStrategies.parent). */
  private TaskSpec parentSpec() {
    return SchedulingStrategies.parent(w.context().spec, w.actorCreation);
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
    // A named actor made in a worker lands in its job's namespace.
    String ns = o.getNamespace() != null ? o.getNamespace()
        : o.getName().isEmpty() ? w.namespace : CoreRuntimeContext.jobNamespace(w);
    boolean detached = o.isLifetimeSet() || o.getName().isEmpty()
        ? o.getLifetime() == io.polyray.api.ActorLifetime.DETACHED
        // A named actor without a lifetime: the job's default (PolyRayConfig.setDefaultActorLifetime).
        : "detached".equals(CoreRuntimeContext.jobDefaultLifetime(w));
    if (detached && o.getName().isEmpty()) {
      throw new IllegalArgumentException("a detached actor must have a name (setName(...))");
    }
    String suffix = fn.getLanguage() == io.polyray.api.Language.PYTHON ? ".__init__" : "";
    ByteString actorId = Ids.actorId(w.jobId);
    Map<String, Double> actorResources = resources(o, 0);
    SchedulingStrategies.checkFitsBundle(o, actorResources, "actor " + fn.displayName());
    TaskSpec.Builder spec = newSpec(TaskType.ACTOR_CREATION_TASK, protoLanguage(fn.getLanguage()), descriptor(fn),
        fn.displayName() + suffix)
        .setActorId(actorId)
        .setNumReturns(0)
        .putAllResources(actorResources)
        .setScheduling(SchedulingStrategies.of(o, parentSpec()))
        .setMaxRestarts(o.getMaxRestarts() == null ? RuntimeSpec.RETRY_MAX_RESTARTS : o.getMaxRestarts())
        .setMaxTaskRetries(o.getMaxTaskRetries() == null ? RuntimeSpec.RETRY_MAX_TASK_RETRIES
            : o.getMaxTaskRetries())
        .setMaxConcurrency(o.getMaxConcurrency() == null ? 0 : o.getMaxConcurrency())
        .putAllConcurrencyGroups(o.getConcurrencyGroups())
        .setActorName(o.getName())
        .setActorNamespace(ns)
        .setDetached(detached);
    List<Object> held = new ArrayList<>();
    List<ByteString> argIds = buildArgs(spec, args, fn.displayName(), held);
    TaskSpec built = spec.build();
    w.references.addSubmitted(argIds);
    Reference.reachabilityFence(args);
    Reference.reachabilityFence(held);
    submitted(built);
    try {
      w.gcs().registerActor(io.polyray.runtime.proto.RegisterActorRequest.newBuilder().setCreationTask(built).build());
    } catch (StatusRuntimeException e) {
      w.references.removeSubmitted(argIds);
      Status.Code code = e.getStatus().getCode();
      if (code == Status.Code.ALREADY_EXISTS || code == Status.Code.INVALID_ARGUMENT) {
        throw new IllegalArgumentException(e.getStatus().getDescription(), e);
      }
      throw new PolyRayException("the GCS at " + w.gcsAddress + " did not register actor " + fn.displayName() + ": "
          + e.getStatus().getCode() + ": " + e.getStatus().getDescription(), e);
    }
    ActorHandle handle = ActorHandle.newBuilder()
        .setActorId(actorId)
        .setLanguage(built.getLanguage())
        .setClassDescriptor(built.getFunction())
        .setOwner(w.address)
        .setName(o.getName())
        .setNamespace(ns)
        .setMaxTaskRetries(built.getMaxTaskRetries())
        .setDetached(detached)
        .build();
    // The creation's arguments stay referenced until the actor is up (or dead).
    toIo((Runnable) () -> w.actorSubmitter.watchCreation(actorId, argIds));
    // This process owns the actor: its handles count as refs to the pseudo-object (ActorHandles).
    return w.handleCounting.counted(AbstractActorHandle.of(handle));
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
    @SuppressWarnings("unchecked")
    ObjectRef<R> ref = (ObjectRef<R>) submitActorCall(actor, fn, args, o, fn.getReturnType(), null).get(0);
    return ref;
  }

  /**
   * Calls an actor's method with {@code o.getNumReturns()} return values.
   *
   * @param actor the actor
   * @param fn the method
   * @param args values or ObjectRefs
   * @param o options
   * @return the references of its returns, in order
   */
  @SuppressWarnings("unchecked")
  public List<ObjectRef<Object>> submitActorTaskReturns(BaseActorHandle actor, FunctionSpec fn, Object[] args,
      CallOptions o) {
    return (List<ObjectRef<Object>>) (List<?>) submitActorCall(actor, fn, args, o,
        o.getNumReturns() == 1 ? fn.getReturnType() : null, null);
  }

  private List<ObjectRef<?>> submitActorCall(BaseActorHandle actor, FunctionSpec fn, Object[] args, CallOptions o,
      java.lang.reflect.Type type, GeneratorStreams.Stream[] opened) {
    int generator = opened == null ? 0 : GENERATOR_STREAMING;
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
        String cppClass = cls.getCpp().getClassName();
        // Methods are registered as "Class::Method"; CppActorMethod.of("Add", ...) means that too.
        String method = fn.getFunctionName().contains("::") ? fn.getFunctionName()
            : cppClass + "::" + fn.getFunctionName();
        fd = FunctionDescriptor.newBuilder().setCpp(CppFunctionDescriptor.newBuilder()
            .setFunctionName(method).setClassName(cppClass)).build();
        name = method;
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
    checkNumReturns(o, protoLanguageToApi(h.getLanguage()), name);
    checkGenerator(generator, o, name);
    TaskSpec.Builder spec = newSpec(TaskType.ACTOR_TASK, h.getLanguage(), fd, name)
        .setActorId(h.getActorId())
        .setNumReturns(o.getNumReturns())
        .setMaxRetries(0)
        // Retries of a call in flight when the actor dies: this call's option, else the actor's.
        .setMaxTaskRetries(o.getMaxTaskRetries() == null ? h.getMaxTaskRetries()
            : o.getMaxTaskRetries())
        .setGenerator(generator)
        .setConcurrencyGroup(o.getConcurrencyGroup())
        .setCallerWorkerId(w.workerId);
    List<Object> held = new ArrayList<>();
    List<ByteString> argIds = buildArgs(spec, args, name, held);
    if (ActorHandles.counted(h)) {
      // The call holds the handle like an argument: calls made before the last handle went run first.
      argIds = new ArrayList<>(argIds);
      argIds.add(ActorHandles.handleObjectId(h.getActorId()));
    }
    List<ObjectRef<?>> refs = returnRefs(spec, generator != 0 ? Long.class : type);
    if (generator != 0) {
      opened[0] = w.generators.open(spec.getTaskId(), GeneratorStreams.itemType(type));
    }
    w.references.addSubmitted(argIds);
    Reference.reachabilityFence(args);
    Reference.reachabilityFence(held);
    Reference.reachabilityFence(actor);
    synchronized (actorSeq) {
      // Numbered and queued under one lock: calls reach the io thread in sequence order.
      long seq = actorSeq.merge(h.getActorId(), 1L, Long::sum);
      TaskSpec built = spec.setSequenceNo(seq).build();
      toIo(pending(built, argIds));
    }
    return refs;
  }

  private static io.polyray.api.Language protoLanguageToApi(Language l) {
    return l == Language.CPP ? io.polyray.api.Language.CPP : l == Language.PYTHON ? io.polyray.api.Language.PYTHON
        : io.polyray.api.Language.JAVA;
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

  /**
   * The live actor of a name.
   *
   * @param name the name
   * @param ns the namespace, or null for the job's
   * @return its handle, or null
   */
  BaseActorHandle getNamedActor(String name, String ns) {
    String space = ns == null ? CoreRuntimeContext.jobNamespace(w) : ns;  // a worker's: its job's
    io.polyray.runtime.proto.GetNamedActorReply reply;
    try {
      reply = w.gcs().getNamedActor(io.polyray.runtime.proto.GetNamedActorRequest.newBuilder().setName(name)
          .setNamespace(space).build());
    } catch (StatusRuntimeException e) {
      throw new PolyRayException("the GCS at " + w.gcsAddress + " did not answer GetNamedActor(" + name + "): "
          + e.getStatus(), e);
    }
    if (!reply.getFound() || reply.getActor().getState() == io.polyray.runtime.proto.ActorState.DEAD) {
      return null;
    }
    // As Ray: a handle looked up by name does not keep the actor alive.
    return AbstractActorHandle.of(reply.getActor().getHandle().toBuilder().setDetached(true).build());
  }

  /** {@link #cancelOwned}: an actor call with force, refused (as in Ray). */
  private static final Object ACTOR_FORCE = new Object();

  private static String actorForceMessage() {
    return "force=true is not supported for actor calls (as in Ray): use PolyRay.kill(actor)";
  }

  /**
   * Cancels the task that returns {@code ref} (as task_submission.py's cancel): a queued one
   * fails at once with TASK_CANCELLED; a running one is interrupted by its worker ({@code force}:
   * the worker exits) and fails with TASK_CANCELLED; a finished one is left alone. An actor call
   * not sent yet is dropped, one sent is cancelled by the actor (queued there: never runs;
   * running: interrupted); force on an actor call is refused. A ref this process borrows: its
   * owner is asked, and forwards the cancel to the worker that runs the task.
   *
   * @param ref a return of the task
   * @param force stop the worker
   * @param recursive the worker also cancels the tasks the cancelled task submitted
   * @throws IllegalArgumentException for force on an actor call
   */
  void cancel(ObjectRef<?> ref, boolean force, boolean recursive) {
    ObjectRefImpl<?> r = CoreWorker.check(ref);
    ByteString taskId = Ids.taskOf(r.toProto().getObjectId());
    io.polyray.runtime.proto.Address owner = r.toProto().getOwner();
    io.polyray.runtime.proto.CancelTaskRequest req = io.polyray.runtime.proto.CancelTaskRequest.newBuilder()
        .setTaskId(taskId).setForce(force).setRecursive(recursive).build();
    if (!owner.getWorkerId().isEmpty() && !owner.getWorkerId().equals(w.workerId)) {
      try {
        io.polyray.runtime.proto.CoreWorkerServiceGrpc.newBlockingStub(w.channels.get(owner))
            .withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, java.util.concurrent.TimeUnit.SECONDS).cancelTask(req);
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT) {
          throw new IllegalArgumentException(e.getStatus().getDescription(), e);
        }
        // An owner that is gone: its task's returns fail with OwnerDiedException anyway.
      }
      return;
    }
    java.util.concurrent.CompletableFuture<Object> found = new java.util.concurrent.CompletableFuture<>();
    toIo((Runnable) () -> found.complete(cancelOwned(taskId, force, recursive)));
    Object got;
    try {
      got = found.get(RuntimeSpec.RPC_TIMEOUT_S, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new io.polyray.api.exception.TaskCancelledException("interrupted while cancelling " + r.getIdHex());
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new PolyRayException("cancel(" + r.getIdHex() + ") did not finish: " + e, e);
    }
    if (got == ACTOR_FORCE) {
      throw new IllegalArgumentException(actorForceMessage());
    }
  }

  /**
   * (Io thread.) Cancels a task this process submitted.
   *
   * @return TRUE (found), FALSE (not one of its tasks: unknown or finished) or ACTOR_FORCE
   */
  private Object cancelOwned(ByteString taskId, boolean force, boolean recursive) {
    w.submitter.setCanceller(this::sendCancel);
    if (w.submitter.cancel(taskId, force, recursive)) {
      return Boolean.TRUE;
    }
    if (!w.actorSubmitter.knows(taskId)) {
      return Boolean.FALSE;
    }
    if (force) {
      return ACTOR_FORCE;
    }
    Object at = w.actorSubmitter.cancel(taskId);
    if (at instanceof io.polyray.runtime.proto.Address) {
      sendCancel((io.polyray.runtime.proto.Address) at, taskId, false, recursive);
    }
    return Boolean.TRUE;
  }

  /**
   * Serves a CancelTask (docs/protocol.md §6): from a borrower of a task this process submitted
   * (forwarded to the worker running it, as Ray's owner does), else from a caller of a task this
   * process runs ({@code runHere}: the executor's cancel); with {@code recursive}, the tasks the
   * cancelled task submitted are cancelled too (before a forced cancel ends this process, else
   * after the task was interrupted).
   *
   * @param req the request
   * @param runHere cancels the task if this process runs it; whether it was attempted
   * @param out the reply
   */
  void serveCancel(io.polyray.runtime.proto.CancelTaskRequest req, java.util.function.BooleanSupplier runHere,
      io.grpc.stub.StreamObserver<io.polyray.runtime.proto.CancelTaskReply> out) {
    toIo((Runnable) () -> {
      ByteString id = req.getTaskId();
      Object found = cancelOwned(id, req.getForce(), req.getRecursive());
      if (found == ACTOR_FORCE) {
        out.onError(Status.INVALID_ARGUMENT.withDescription(actorForceMessage()).asRuntimeException());
        return;
      }
      boolean attempted = found == Boolean.TRUE;
      if (!attempted) {
        if (req.getRecursive() && req.getForce()) {
          w.submitter.cancelChildren(id, true);
        }
        attempted = runHere.getAsBoolean();
        if (req.getRecursive() && !req.getForce()) {
          w.submitter.cancelChildren(id, false);
        }
      }
      out.onNext(io.polyray.runtime.proto.CancelTaskReply.newBuilder().setAttempted(attempted).build());
      out.onCompleted();
    });
  }

  /** (Io thread.) CancelTask to the worker running a task; its reply does not matter. */
  private void sendCancel(io.polyray.runtime.proto.Address worker, ByteString taskId, boolean force,
      boolean recursive) {
    io.polyray.runtime.proto.CoreWorkerServiceGrpc.newStub(w.channels.get(worker))
        .withDeadlineAfter(RuntimeSpec.RPC_TIMEOUT_S, java.util.concurrent.TimeUnit.SECONDS)
        .cancelTask(io.polyray.runtime.proto.CancelTaskRequest.newBuilder().setTaskId(taskId).setForce(force)
            .setRecursive(recursive).build(),
            new io.grpc.stub.StreamObserver<io.polyray.runtime.proto.CancelTaskReply>() {
              @Override
              public void onNext(io.polyray.runtime.proto.CancelTaskReply value) {
              }

              @Override
              public void onError(Throwable t) {
                // force: the worker exits before it answers; its stream's end fails the task
              }

              @Override
              public void onCompleted() {
              }
            });
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
      w.gcs().killActor(io.polyray.runtime.proto.KillActorRequest.newBuilder().setActorId(id).setNoRestart(noRestart)
          .build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
        throw new IllegalArgumentException("no actor " + actor.getActorIdHex(), e);
      }
      throw new PolyRayException("the GCS at " + w.gcsAddress + " did not kill actor " + actor.getActorIdHex() + ": "
          + e.getStatus(), e);
    }
  }
}

package io.polyray.api;

import io.polyray.api.call.ActorCreator;
import io.polyray.api.call.TaskCaller;
import io.polyray.api.exception.GetTimeoutException;
import io.polyray.api.function.PolyRayFunc0;
import io.polyray.api.function.PolyRayFunc1;
import io.polyray.api.function.PolyRayFunc2;
import io.polyray.api.function.PolyRayFunc3;
import io.polyray.api.function.PolyRayFunc4;
import io.polyray.api.function.PolyRayFunc5;
import io.polyray.api.function.PolyRayFunc6;
import io.polyray.api.function.PolyRayFuncVoid0;
import io.polyray.api.function.PolyRayFuncVoid1;
import io.polyray.api.function.PolyRayFuncVoid2;
import io.polyray.api.function.PolyRayFuncVoid3;
import io.polyray.api.function.PolyRayFuncVoid4;
import io.polyray.api.function.PolyRayFuncVoid5;
import io.polyray.api.function.PolyRayFuncVoid6;
import io.polyray.api.spi.FunctionSpec;
import io.polyray.api.spi.MethodReferences;
import io.polyray.api.spi.PolyRayRuntime;
import io.polyray.api.spi.PolyRayRuntimeFactory;
import io.polyray.api.spi.Runtimes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * The polyray Java API: connect a driver, submit tasks and actors written in Java,
 * Python or C++, and get their results.
 *
 * <pre>{@code
 * PolyRay.init();                                   // an embedded local cluster
 * ObjectRef<Long> sum = PolyRay.task(MyTasks::add, 1, 2).remote();
 * ActorHandle<Counter> c = PolyRay.actor(Counter::new, 10).remote();
 * ObjectRef<Integer> n = c.task(Counter::increment, 5).remote();
 * PyFunction<Double> f = PyFunction.of("stats", "mean", Double.class);
 * double m = PolyRay.get(PolyRay.task(f, List.of(1.0, 2.0)).remote());
 * PolyRay.shutdown();
 * }</pre>
 *
 * <p>Values cross languages in the XLANG form (docs/protocol.md §9): null, booleans, integers,
 * floating point numbers, strings, byte arrays, lists and arrays, maps, primitive arrays
 * (as ndarrays), ObjectRefs and actor handles, nested freely. {@code get} converts the
 * value to the type the reference was declared with (the method's return type, or the
 * {@code returnType} of a {@link PyFunction}); an {@code NdArray} return type receives a
 * large array read from the shared store without a copy.
 *
 * <p>Errors: {@code get} throws the task's error: a {@link
 * io.polyray.api.exception.TaskException} (a {@link
 * io.polyray.api.exception.CrossLanguageException} when the chain crossed languages),
 * or a system failure ({@link io.polyray.api.exception.WorkerCrashedException}, {@link
 * io.polyray.api.exception.ActorDiedException}, {@link GetTimeoutException}, ...).
 *
 * <p>The implementation lives in {@code polyray-runtime}, found with {@link
 * ServiceLoader}; both jars (and the runtime's {@code lib/}) must be on the class path:
 * {@code polyray java-classpath} prints it.
 */
// Each task(...) arity has a result and a void form: a reference to a non-overloaded
// method picks one unambiguously; an overloaded one needs a type witness (see the README).
@SuppressWarnings("overloads")
public final class PolyRay {
  private static final Object LOCK = new Object();

  private PolyRay() {}

  /**
   * Connects this process as a driver of a new embedded local cluster (GCS and raylet
   * started as a child process, stopped at {@link #shutdown()} or JVM exit).
   *
   * @return the GCS address, the job and the dashboard's URL (also printed on stderr)
   * @throws IllegalStateException when already initialized, or the cluster does not start
   *     (the message has the end of its log)
   */
  public static InitInfo init() {
    return init(new PolyRayConfig());
  }

  /**
   * Connects this process as a driver of a running cluster.
   *
   * @param address {@code host:port} of the head's GCS ({@code python -m polyray.node --head}
   *     prints it), or {@code "auto"} for the environment variable {@code POLYRAY_ADDRESS}
   * @throws IllegalStateException when already initialized, or nothing answers at the
   *     address (within seconds; the message names the address)
   * @return the GCS address, the job and the dashboard's URL (also printed on stderr)
   */
  public static InitInfo init(String address) {
    return init(new PolyRayConfig().setAddress(Objects.requireNonNull(address, "address")));
  }

  /**
   * Connects this process as a driver as configured.
   *
   * @param config address, code search path, namespace, ...
   * @return the GCS address, the job and the dashboard's URL (also printed on stderr)
   * @throws IllegalStateException when already initialized, or the connection fails
   */
  public static InitInfo init(PolyRayConfig config) {
    Objects.requireNonNull(config, "config");
    synchronized (LOCK) {
      if (Runtimes.current() != null) {
        throw new IllegalStateException("polyray is already initialized in this process; call PolyRay.shutdown() "
            + "first");
      }
      PolyRayRuntime runtime = factory().createDriver(config);
      Runtimes.install(runtime);
      return new InitInfo(runtime.getGcsAddress(), runtime.getJobId(), runtime.getDashboardUrl());
    }
  }

  private static PolyRayRuntimeFactory factory() {
    List<ClassLoader> loaders = new ArrayList<>();
    loaders.add(PolyRay.class.getClassLoader());
    ClassLoader ctx = Thread.currentThread().getContextClassLoader();
    if (ctx != null && ctx != loaders.get(0)) {
      loaders.add(ctx);
    }
    for (ClassLoader l : loaders) {
      Iterator<PolyRayRuntimeFactory> it = ServiceLoader.load(PolyRayRuntimeFactory.class, l).iterator();
      if (it.hasNext()) {
        return it.next();
      }
    }
    throw new IllegalStateException("no polyray runtime on the class path: add polyray-runtime and its lib/ "
        + "(`polyray java-classpath` prints the class path of the Java SDK)");
  }

  /**
   * Disconnects the driver: returns its workers, finishes its job (its non-detached
   * actors die) and stops the embedded cluster if {@link #init()} started one. Does
   * nothing when not initialized.
   */
  public static void shutdown() {
    synchronized (LOCK) {
      PolyRayRuntime runtime = Runtimes.current();
      if (runtime == null) {
        return;
      }
      Runtimes.uninstall(runtime);
      runtime.shutdown();
    }
  }

  /**
   * Ends the current actor from inside one of its methods, as Ray's {@code Ray.exitActor()}:
   * the call and every later call fail with {@code ActorDiedException}, the worker exits and
   * the actor is not restarted whatever its {@code maxRestarts}. Outside an actor method the
   * exception it throws is an ordinary error of the task (or of the driver's code).
   *
   * @throws io.polyray.api.exception.ActorExitException always (the worker catches it)
   */
  public static void exitActor() {
    throw new io.polyray.api.exception.ActorExitException(
        "PolyRay.exitActor() was called (it ends an actor from inside one of its methods)");
  }

  /**
   * Whether this process is connected (a driver after {@link #init()}, or a worker).
   *
   * @return true between init and shutdown
   */
  public static boolean isInitialized() {
    return Runtimes.current() != null;
  }

  /**
   * The process's runtime (internal: the callers use it).
   *
   * @return the runtime
   * @throws IllegalStateException when not initialized
   */
  public static PolyRayRuntime internal() {
    PolyRayRuntime r = Runtimes.current();
    if (r == null) {
      throw new IllegalStateException("polyray is not initialized: call PolyRay.init() first");
    }
    return r;
  }

  /**
   * A task that calls a static Java method with 0 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f).remote()}.
   *
   * @param f a method reference to a public static method
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <R> TaskCaller<R> task(PolyRayFunc0<R> f) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {});
  }

  /**
   * A task that calls a static {@code void} Java method with 0 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @return the task, to submit with {@code remote()}
   */
  public static TaskCaller<Void> task(PolyRayFuncVoid0 f) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {});
  }

  /**
   * A task that calls a static Java method with 1 argument in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, R> TaskCaller<R> task(PolyRayFunc1<T0, R> f, Object a0) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0});
  }

  /**
   * A task that calls a static {@code void} Java method with 1 argument; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @return the task, to submit with {@code remote()}
   */
  public static <T0> TaskCaller<Void> task(PolyRayFuncVoid1<T0> f, Object a0) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0});
  }

  /**
   * A task that calls a static Java method with 2 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0, 1).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, R> TaskCaller<R> task(PolyRayFunc2<T0, T1, R> f, Object a0, Object a1) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1});
  }

  /**
   * A task that calls a static {@code void} Java method with 2 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1> TaskCaller<Void> task(PolyRayFuncVoid2<T0, T1> f, Object a0, Object a1) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1});
  }

  /**
   * A task that calls a static Java method with 3 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0, 1, 2).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, R> TaskCaller<R> task(PolyRayFunc3<T0, T1, T2, R> f,
      Object a0, Object a1, Object a2) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2});
  }

  /**
   * A task that calls a static {@code void} Java method with 3 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2> TaskCaller<Void> task(PolyRayFuncVoid3<T0, T1, T2> f,
      Object a0, Object a1, Object a2) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2});
  }

  /**
   * A task that calls a static Java method with 4 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0, 1, 2, 3).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, R> TaskCaller<R> task(PolyRayFunc4<T0, T1, T2, T3, R> f,
      Object a0, Object a1, Object a2, Object a3) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3});
  }

  /**
   * A task that calls a static {@code void} Java method with 4 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3> TaskCaller<Void> task(PolyRayFuncVoid4<T0, T1, T2, T3> f,
      Object a0, Object a1, Object a2, Object a3) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3});
  }

  /**
   * A task that calls a static Java method with 5 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0, 1, 2, 3, 4).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param a4 argument 4 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <T4> the type of parameter 4
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4, R> TaskCaller<R> task(PolyRayFunc5<T0, T1, T2, T3, T4, R> f,
      Object a0, Object a1, Object a2, Object a3, Object a4) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3, a4});
  }

  /**
   * A task that calls a static {@code void} Java method with 5 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param a4 argument 4 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <T4> the type of parameter 4
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4> TaskCaller<Void> task(PolyRayFuncVoid5<T0, T1, T2, T3, T4> f,
      Object a0, Object a1, Object a2, Object a3, Object a4) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3, a4});
  }

  /**
   * A task that calls a static Java method with 6 arguments in a Java worker:
   * {@code PolyRay.task(MyTasks::f, 0, 1, 2, 3, 4, 5).remote()}.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param a4 argument 4 (a value or an ObjectRef)
   * @param a5 argument 5 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <T4> the type of parameter 4
   * @param <T5> the type of parameter 5
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4, T5, R> TaskCaller<R> task(PolyRayFunc6<T0, T1, T2, T3, T4, T5, R> f,
      Object a0, Object a1, Object a2, Object a3, Object a4, Object a5) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3, a4, a5});
  }

  /**
   * A task that calls a static {@code void} Java method with 6 arguments; the
   * reference's value is null once it is done.
   *
   * @param f a method reference to a public static method
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param a4 argument 4 (a value or an ObjectRef)
   * @param a5 argument 5 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <T4> the type of parameter 4
   * @param <T5> the type of parameter 5
   * @return the task, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4, T5> TaskCaller<Void> task(PolyRayFuncVoid6<T0, T1, T2, T3, T4, T5> f,
      Object a0, Object a1, Object a2, Object a3, Object a4, Object a5) {
    return new TaskCaller<>(MethodReferences.describe(f, FunctionSpec.Kind.TASK),
        new Object[] {a0, a1, a2, a3, a4, a5});
  }


  /**
   * A Java actor created by a constructor or static factory with 0 arguments:
   * {@code PolyRay.actor(Counter::new).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc0<A> f) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {});
  }

  /**
   * A Java actor created by a constructor or static factory with 1 argument:
   * {@code PolyRay.actor(Counter::new, 0).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc1<T0, A> f, Object a0) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0});
  }

  /**
   * A Java actor created by a constructor or static factory with 2 arguments:
   * {@code PolyRay.actor(Counter::new, 0, 1).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, T1, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc2<T0, T1, A> f,
      Object a0, Object a1) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0, a1});
  }

  /**
   * A Java actor created by a constructor or static factory with 3 arguments:
   * {@code PolyRay.actor(Counter::new, 0, 1, 2).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, T1, T2, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc3<T0, T1, T2, A> f,
      Object a0, Object a1, Object a2) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0, a1, a2});
  }

  /**
   * A Java actor created by a constructor or static factory with 4 arguments:
   * {@code PolyRay.actor(Counter::new, 0, 1, 2, 3).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc4<T0, T1, T2, T3, A> f,
      Object a0, Object a1, Object a2, Object a3) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0, a1, a2, a3});
  }

  /**
   * A Java actor created by a constructor or static factory with 5 arguments:
   * {@code PolyRay.actor(Counter::new, 0, 1, 2, 3, 4).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param a4 argument 4 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <T4> the type of parameter 4
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc5<T0, T1, T2, T3, T4, A> f,
      Object a0, Object a1, Object a2, Object a3, Object a4) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0, a1, a2, a3, a4});
  }

  /**
   * A Java actor created by a constructor or static factory with 6 arguments:
   * {@code PolyRay.actor(Counter::new, 0, 1, 2, 3, 4, 5).remote()}.
   *
   * @param f a method reference to a public constructor ({@code Class::new}) or static factory
   * @param a0 argument 0 (a value or an ObjectRef)
   * @param a1 argument 1 (a value or an ObjectRef)
   * @param a2 argument 2 (a value or an ObjectRef)
   * @param a3 argument 3 (a value or an ObjectRef)
   * @param a4 argument 4 (a value or an ObjectRef)
   * @param a5 argument 5 (a value or an ObjectRef)
   * @param <T0> the type of parameter 0
   * @param <T1> the type of parameter 1
   * @param <T2> the type of parameter 2
   * @param <T3> the type of parameter 3
   * @param <T4> the type of parameter 4
   * @param <T5> the type of parameter 5
   * @param <A> the actor's class
   * @return the creator, to submit with {@code remote()}
   */
  public static <T0, T1, T2, T3, T4, T5, A> ActorCreator<ActorHandle<A>> actor(PolyRayFunc6<T0, T1, T2, T3, T4, T5, A> f,
      Object a0, Object a1, Object a2, Object a3, Object a4, Object a5) {
    return new ActorCreator<>(MethodReferences.describe(f, FunctionSpec.Kind.ACTOR_CREATION),
        new Object[] {a0, a1, a2, a3, a4, a5});
  }

  /**
   * A task that calls a Python function in a Python worker.
   *
   * @param function the function ({@code PyFunction.of(module, name, returnType)})
   * @param args the arguments: values or ObjectRefs
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <R> TaskCaller<R> task(PyFunction<R> function, Object... args) {
    return new TaskCaller<>(FunctionSpec.python(FunctionSpec.Kind.TASK, function.getModuleName(),
        function.getFunctionName(), function.getReturnType()), args);
  }

  /**
   * A Python actor.
   *
   * @param actorClass the class ({@code PyActorClass.of(module, className)})
   * @param args the constructor's arguments: values or ObjectRefs
   * @return the creator, to submit with {@code remote()}
   */
  public static ActorCreator<PyActorHandle> actor(PyActorClass actorClass, Object... args) {
    return new ActorCreator<>(FunctionSpec.python(FunctionSpec.Kind.ACTOR_CREATION, actorClass.getModuleName(),
        actorClass.getClassName(), null), args);
  }

  /**
   * A task that calls a C++ function registered with {@code POLYRAY_REMOTE}.
   *
   * @param function the function ({@code CppFunction.of(name, returnType)})
   * @param args the arguments: values or ObjectRefs
   * @param <R> the result type
   * @return the task, to submit with {@code remote()}
   */
  public static <R> TaskCaller<R> task(CppFunction<R> function, Object... args) {
    return new TaskCaller<>(FunctionSpec.cpp(FunctionSpec.Kind.TASK, "", function.getFunctionName(),
        function.getReturnType()), args);
  }

  /**
   * A C++ actor.
   *
   * @param actorClass the class ({@code CppActorClass.of(createFunction, className)})
   * @param args the factory's arguments: values or ObjectRefs
   * @return the creator, to submit with {@code remote()}
   */
  public static ActorCreator<CppActorHandle> actor(CppActorClass actorClass, Object... args) {
    return new ActorCreator<>(FunctionSpec.cpp(FunctionSpec.Kind.ACTOR_CREATION, actorClass.getClassName(),
        actorClass.getCreateFunctionName(), null), args);
  }

  // ------------------------------------------------------------------ objects

  /**
   * Stores a value in the cluster; this process owns it. Values above 100 KiB go into
   * the node's shared store (large arrays without an extra copy on read).
   *
   * @param value an XLANG value (see the class comment)
   * @param <T> its type
   * @return its reference
   * @throws IllegalArgumentException when the value has no cross-language form
   */
  public static <T> ObjectRef<T> put(T value) {
    return internal().put(value);
  }

  /**
   * The value of a reference, waiting as long as it takes.
   *
   * @param ref the reference
   * @param <T> the value type
   * @return the value
   * @throws io.polyray.api.exception.PolyRayException the task's error or a system failure
   */
  public static <T> T get(ObjectRef<T> ref) {
    return get(ref, -1);
  }

  /**
   * The value of a reference, waiting at most {@code timeoutMs}.
   *
   * @param ref the reference
   * @param timeoutMs milliseconds; negative: no limit
   * @param <T> the value type
   * @return the value
   * @throws GetTimeoutException when the value is not ready in time
   * @throws io.polyray.api.exception.PolyRayException the task's error or a system failure
   */
  @SuppressWarnings("unchecked")
  public static <T> T get(ObjectRef<T> ref, long timeoutMs) {
    Objects.requireNonNull(ref, "ref");
    return (T) internal().get(ref, timeoutMs);
  }

  /**
   * The values of several references, in order, waiting as long as it takes.
   *
   * @param refs the references
   * @param <T> the value type
   * @return the values
   */
  public static <T> List<T> get(List<ObjectRef<T>> refs) {
    return get(refs, -1);
  }

  /**
   * The values of several references, in order, waiting at most {@code timeoutMs} for
   * all of them.
   *
   * @param refs the references
   * @param timeoutMs milliseconds; negative: no limit
   * @param <T> the value type
   * @return the values
   * @throws GetTimeoutException when they are not all ready in time
   */
  @SuppressWarnings("unchecked")
  public static <T> List<T> get(List<ObjectRef<T>> refs, long timeoutMs) {
    Objects.requireNonNull(refs, "refs");
    for (int i = 0; i < refs.size(); i++) {
      if (refs.get(i) == null) {
        throw new IllegalArgumentException("get() got a null reference at index " + i);
      }
    }
    return (List<T>) (List<?>) internal().getAll(refs, timeoutMs);
  }

  /**
   * Waits until {@code numReturns} of the references are ready (their value or error is
   * known), or {@code timeoutMs} passes.
   *
   * @param refs the references, without duplicates
   * @param numReturns how many to wait for, 0 to {@code refs.size()}
   * @param timeoutMs milliseconds; negative: no limit
   * @param <T> the value type
   * @return the ready references (at most {@code numReturns}) and the others
   */
  public static <T> WaitResult<T> wait(List<ObjectRef<T>> refs, int numReturns, long timeoutMs) {
    Objects.requireNonNull(refs, "refs");
    if (numReturns < 0 || numReturns > refs.size()) {
      throw new IllegalArgumentException("numReturns must be between 0 and " + refs.size()
          + " (the number of refs), got " + numReturns);
    }
    HashSet<ObjectRef<T>> seen = new HashSet<>();
    for (ObjectRef<T> r : refs) {
      if (r == null) {
        throw new IllegalArgumentException("wait() got a null reference");
      }
      if (!seen.add(r)) {
        throw new IllegalArgumentException("wait() got the reference " + r.getIdHex() + " twice");
      }
    }
    return internal().wait(refs, numReturns, timeoutMs);
  }

  /**
   * Waits until every reference is ready.
   *
   * @param refs the references, without duplicates
   * @param <T> the value type
   * @return every reference as ready
   */
  public static <T> WaitResult<T> wait(List<ObjectRef<T>> refs) {
    return wait(refs, refs.size(), -1);
  }

  // ------------------------------------------------------------------ actors

  /**
   * The live actor with this name in the job's namespace, created by any driver or
   * worker in any language.
   *
   * @param name the actor's name
   * @param <T> the handle type: {@code ActorHandle<A>}, {@code PyActorHandle} or
   *     {@code CppActorHandle}, as the actor's language
   * @return its handle, or empty when there is no live actor of that name
   */
  public static <T extends BaseActorHandle> Optional<T> getActor(String name) {
    return getActor(name, null);
  }

  /**
   * The live actor with this name in a namespace.
   *
   * @param name the actor's name
   * @param namespace the namespace (null: the job's)
   * @param <T> the handle type, as the actor's language
   * @return its handle, or empty when there is no live actor of that name
   * @throws ClassCastException (at the assignment) when {@code T} is not the actor's handle type
   */
  @SuppressWarnings("unchecked")
  public static <T extends BaseActorHandle> Optional<T> getActor(String name, String namespace) {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("the actor name must not be empty");
    }
    return (Optional<T>) internal().getActor(name, namespace);
  }

  /**
   * Kills an actor now, without restarting it: its pending and later calls fail with
   * {@link io.polyray.api.exception.ActorDiedException}.
   *
   * @param actor the actor
   */
  public static void kill(BaseActorHandle actor) {
    kill(actor, true);
  }

  /**
   * Kills an actor now.
   *
   * @param actor the actor
   * @param noRestart false: restart it if it has restarts left
   */
  public static void kill(BaseActorHandle actor, boolean noRestart) {
    Objects.requireNonNull(actor, "actor");
    internal().kill(actor, noRestart);
  }
}

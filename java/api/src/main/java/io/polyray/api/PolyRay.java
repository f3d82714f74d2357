package io.polyray.api;

import io.polyray.api.exception.GetTimeoutException;
import io.polyray.api.spi.PolyRayRuntime;
import io.polyray.api.spi.PolyRayRuntimeFactory;
import io.polyray.api.spi.Runtimes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
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
 *
 * <p>{@code task(...)} is declared in {@link PolyRayTasks} and {@code actor(...)},
 * {@code getActor}, {@code kill} and {@code exitActor} in {@link PolyRayActors}; all are
 * called as {@code PolyRay.xxx} (this class inherits them).
 */
public final class PolyRay extends PolyRayActors {
  private static final Object LOCK = new Object();

  private PolyRay() {}

  /**
   * Connects this process as a driver: of the cluster the system property
   * {@code polyray.address} or the environment variable {@code POLYRAY_ADDRESS} names
   * (as Ray's), else of a new embedded local cluster (GCS and raylet started as a child
   * process, stopped at {@link #shutdown()} or JVM exit).
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
   *     prints it), or {@code "auto"} for the environment variable {@code POLYRAY_ADDRESS},
   *     else the cluster {@code polyray start --head} recorded on this machine
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
   * What this process is: job, node, worker, running task and actor (Ray's
   * {@code Ray.getRuntimeContext()}).
   *
   * @return the runtime context
   * @throws IllegalStateException when not initialized
   */
  public static RuntimeContext getRuntimeContext() {
    return internal().getRuntimeContext();
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

  /**
   * Cancels the task or actor call that returns {@code ref} (Ray's {@code Ray.cancel}): a
   * queued task never runs; a running Java task's thread is interrupted (a Python task gets
   * TaskCancelledError raised in it); the tasks it submitted are cancelled too. Getting
   * {@code ref} then throws {@link io.polyray.api.exception.TaskCancelledException}. A
   * finished task is left alone. A ref this process borrows is cancelled through its owner.
   * An actor call not sent yet is dropped; one sent is cancelled by the actor (queued there:
   * it never runs; running: its thread is interrupted).
   *
   * @param ref a return of the task
   */
  public static void cancel(ObjectRef<?> ref) {
    cancel(ref, false, true);
  }

  /**
   * As {@link #cancel(ObjectRef)}; {@code force}: the task's worker process is stopped
   * (as Ray's {@code Ray.cancel(ref, true)}), and the task is not retried.
   *
   * @param ref a return of the task
   * @param force stop the worker (an actor call: IllegalArgumentException, use {@code kill})
   */
  public static void cancel(ObjectRef<?> ref, boolean force) {
    cancel(ref, force, true);
  }

  /**
   * As {@link #cancel(ObjectRef, boolean)}; {@code recursive} false leaves the tasks the
   * cancelled task submitted alone (Ray's {@code recursive}, default true).
   *
   * @param ref a return of the task
   * @param force stop the worker
   * @param recursive also cancel the tasks it submitted
   */
  public static void cancel(ObjectRef<?> ref, boolean force, boolean recursive) {
    Objects.requireNonNull(ref, "ref");
    internal().cancel(ref, force, recursive);
  }
}

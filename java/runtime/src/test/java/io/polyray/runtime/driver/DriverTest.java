package io.polyray.runtime.driver;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.api.ActorHandle;
import io.polyray.api.Language;
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyActorClass;
import io.polyray.api.PyActorHandle;
import io.polyray.api.PyActorMethod;
import io.polyray.api.PyFunction;
import io.polyray.api.WaitResult;
import io.polyray.api.exception.ActorDiedException;
import io.polyray.api.exception.CrossLanguageException;
import io.polyray.api.exception.GetTimeoutException;
import io.polyray.api.exception.TaskException;
import io.polyray.runtime.codec.NdArray;
import io.polyray.runtime.driver.fixtures.Counter;
import io.polyray.runtime.driver.fixtures.DriverTasks;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A Java driver against a real embedded cluster (a Python head started as a child
 * process, real Java and Python workers): Java tasks and actors, values of every mapped
 * type, Python functions and actors, handles as arguments, named actors, errors across
 * languages, timeouts, wait, and ndarrays through the shared store. One cluster for the
 * whole class (workers are reused), so it stays fast on a small machine.
 */
@Timeout(120)
class DriverTest {
  static final String MOD = "driver_test_mod";
  static final long T = 60_000; // get timeout: generous for a loaded 2-core machine

  static Path pyDir;

  @BeforeAll
  static void startCluster() throws IOException {
    pyDir = Files.createTempDirectory("polyray-driver-test-");
    try (InputStream in = DriverTest.class.getResourceAsStream("/driver/driver_test_mod.py")) {
      Files.copy(in, pyDir.resolve(MOD + ".py"));
    }
    String testClasses = classesDir();
    PolyRay.init(new PolyRayConfig()
        .setNumCpus(4)
        .setCodeSearchPath(List.of(testClasses, pyDir.toString())));
  }

  @AfterAll
  static void stopCluster() {
    PolyRay.shutdown();
  }

  /** Where the test fixtures' classes are (a directory on the job's code search path). */
  static String classesDir() {
    try {
      return Paths.get(DriverTasks.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  // ------------------------------------------------------------------ Java

  @Test
  void javaStaticTasks() {
    ObjectRef<Long> sum = PolyRay.task(DriverTasks::add, 1, 2).remote();
    assertEquals(3L, PolyRay.get(sum, T));
    assertEquals("hello wörld", PolyRay.get(PolyRay.task(DriverTasks::greet, "wörld").remote(), T));
    assertNull(PolyRay.get(PolyRay.task(DriverTasks::nothing).remote(), T));
    // An ObjectRef argument is resolved before the call; results feed later tasks.
    ObjectRef<Long> chained = PolyRay.task(DriverTasks::add, sum, PolyRay.put(10L)).remote();
    assertEquals(13L, chained.get(T));
    Map<String, Object> d = PolyRay.get(PolyRay.task(DriverTasks::describe,
        Arrays.asList(1, "x", 2.5, null, List.of())).remote(), T);
    assertEquals(5L, ((Number) d.get("size")).longValue());
    assertEquals(List.of("Long", "String", "Double", "null", "ArrayList"), d.get("types"));
  }

  @Test
  void manyTasksAtOnce() {
    List<ObjectRef<Long>> refs = new ArrayList<>();
    for (long i = 0; i < 50; i++) {
      refs.add(PolyRay.task(DriverTasks::add, i, i).remote());
    }
    List<Long> got = PolyRay.get(refs, T);
    assertEquals(LongStream.range(0, 50).map(i -> 2 * i).boxed().collect(Collectors.toList()), got);
  }

  @Test
  void javaActorRunsCallsInOrder() {
    ActorHandle<Counter> c = PolyRay.actor(Counter::new, 10).remote();
    List<ObjectRef<Long>> refs = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      refs.add(c.task(Counter::increment, 1).remote());
    }
    assertEquals(LongStream.rangeClosed(11, 30).boxed().collect(Collectors.toList()), PolyRay.get(refs, T));
    assertEquals(LongStream.rangeClosed(11, 30).boxed().collect(Collectors.toList()),
        PolyRay.get(c.task(Counter::history).remote(), T));
    assertNull(PolyRay.get(c.task(Counter::reset).remote(), T));
    assertEquals(0L, PolyRay.get(c.task(Counter::value).remote(), T));
    assertEquals(Counter.class.getName(), c.getClassName());
    assertEquals(Language.JAVA, c.getLanguage());
  }

  /** As Ray: a task asking for 0 CPUs needs none, so it runs while an actor holds every CPU. */
  @Test
  void zeroCpuTaskRunsWhileAnActorHoldsEveryCpu() {
    ActorHandle<Counter> holder = PolyRay.actor(Counter::new, 1).setResource("CPU", 4.0).remote();
    try {
      assertEquals(2L, PolyRay.get(holder.task(Counter::increment, 1).remote(), T));
      assertEquals(3L, PolyRay.get(PolyRay.task(DriverTasks::add, 1, 2).setResource("CPU", 0.0).remote(), 30_000));
    } finally {
      PolyRay.kill(holder);
    }
  }

  /**
   * As Ray: the caller resolves an actor call's argument refs before the call enters the actor's
   * stream, so a call waiting for a slow argument does not hold up another caller's calls.
   */
  @Test
  void actorCallWaitingForAnArgumentDoesNotHoldUpAnotherCaller() {
    ActorHandle<Counter> c = PolyRay.actor(Counter::new, 0).remote();
    assertEquals(0L, PolyRay.get(c.task(Counter::value).remote(), T));
    ObjectRef<Long> slow = PolyRay.task(DriverTasks::sleepAndReturn, 4000L).remote();
    ObjectRef<Long> waiting = c.task(Counter::increment, slow).remote();
    ObjectRef<Long> other = PolyRay.task(DriverTasks::bumpCounter, c, 1L).remote(); // another caller
    assertEquals(1L, PolyRay.get(other, 30_000));
    assertTrue(PolyRay.wait(List.of(slow), 1, 0).getReady().isEmpty(),
        "the other caller's call returned while this caller's argument was still being computed");
    assertEquals(4001L, PolyRay.get(waiting, T));
    PolyRay.kill(c);
  }

  @Test
  void javaExceptionIsATaskException() {
    TaskException e = assertThrows(TaskException.class,
        () -> PolyRay.get(PolyRay.task(DriverTasks::fail, "bad input").remote(), T));
    assertFalse(e instanceof CrossLanguageException, "a Java-only chain is not cross-language");
    assertEquals(Language.JAVA, e.getLanguage());
    assertEquals("java.lang.IllegalStateException", e.getTypeName());
    assertTrue(e.getMessage().contains("java says: bad input"), e.getMessage());
    assertTrue(e.getRemoteTraceback().contains("DriverTasks.fail"), e.getRemoteTraceback());
    ActorHandle<Counter> c = PolyRay.actor(Counter::new, 0).remote();
    TaskException m = assertThrows(TaskException.class, () -> PolyRay.get(c.task(Counter::fail).remote(), T));
    assertEquals("java.lang.UnsupportedOperationException", m.getTypeName());
    assertEquals(1L, PolyRay.get(c.task(Counter::increment, 1).remote(), T)); // the actor lives on
  }

  @Test
  void namedJavaActorIsFoundByName() {
    ActorHandle<Counter> c = PolyRay.actor(Counter::new, 5).setName("driver-test-counter").remote();
    assertEquals(6L, PolyRay.get(c.task(Counter::increment, 1).remote(), T));
    Optional<ActorHandle<Counter>> found = PolyRay.getActor("driver-test-counter");
    assertTrue(found.isPresent());
    assertEquals(c, found.get());
    assertEquals(8L, PolyRay.get(found.get().task(Counter::increment, 2).remote(), T));
    assertFalse(PolyRay.getActor("no-such-actor").isPresent());
    assertFalse(PolyRay.getActor("driver-test-counter", "other-namespace").isPresent());
    IllegalArgumentException taken = assertThrows(IllegalArgumentException.class,
        () -> PolyRay.actor(Counter::new, 0).setName("driver-test-counter").remote());
    assertTrue(taken.getMessage().contains("driver-test-counter"), taken.getMessage());
    // The creator's handle keeps the named actor alive (handles found by name do not, as in Ray).
    java.lang.ref.Reference.reachabilityFence(c);
  }

  @Test
  void killedActorFailsItsCalls() {
    ActorHandle<Counter> c = PolyRay.actor(Counter::new, 0).remote();
    assertEquals(1L, PolyRay.get(c.task(Counter::increment, 1).remote(), T));
    PolyRay.kill(c);
    assertThrows(ActorDiedException.class, () -> {
      for (int i = 0; i < 50; i++) { // the death reaches this caller shortly after the kill
        PolyRay.get(c.task(Counter::increment, 1).remote(), T);
        Thread.sleep(100);
      }
    });
  }

  // ------------------------------------------------------------------ values

  @Test
  void putAndGetEveryMappedType() {
    assertNull(PolyRay.get(PolyRay.put(null), T));
    assertEquals(true, PolyRay.get(PolyRay.put(true), T));
    assertEquals(7, PolyRay.get(PolyRay.put(7), T));
    assertEquals(7L, PolyRay.get(PolyRay.put(7L), T));
    assertEquals((short) 3, PolyRay.get(PolyRay.put((short) 3), T));
    assertEquals(2.5, PolyRay.get(PolyRay.put(2.5), T));
    assertEquals(1.5f, PolyRay.get(PolyRay.put(1.5f), T));
    assertEquals("ünïcode", PolyRay.get(PolyRay.put("ünïcode"), T));
    assertArrayEquals(new byte[] {1, 2, 3}, PolyRay.get(PolyRay.put(new byte[] {1, 2, 3}), T));
    assertArrayEquals(new double[] {1.5, 2.5}, PolyRay.get(PolyRay.put(new double[] {1.5, 2.5}), T));
    assertArrayEquals(new long[] {1, 2}, PolyRay.get(PolyRay.put(new long[] {1, 2}), T));
    assertArrayEquals(new int[] {1, 2}, PolyRay.get(PolyRay.put(new int[] {1, 2}), T));
    assertArrayEquals(new boolean[] {true, false}, PolyRay.get(PolyRay.put(new boolean[] {true, false}), T));
    assertArrayEquals(new String[] {"a", "b"}, PolyRay.get(PolyRay.put(new String[] {"a", "b"}), T));
    assertEquals(new BigInteger("18446744073709551615"),
        PolyRay.get(PolyRay.put(new BigInteger("18446744073709551615")), T));
    Map<Object, Object> m = new LinkedHashMap<>();
    m.put("list", List.of(1L, "two", 3.0));
    m.put(5L, Map.of("nested", true));
    m.put("nil", null);
    assertEquals(m, PolyRay.get(PolyRay.put(m), T));
    // References nested in a value stay references.
    ObjectRef<String> inner = PolyRay.put("inside");
    List<Object> holder = PolyRay.get(PolyRay.put(List.of(inner, "x")), T);
    @SuppressWarnings("unchecked")
    ObjectRef<Object> back = (ObjectRef<Object>) holder.get(0);
    assertEquals("inside", PolyRay.get(back, T));
    // A large value goes through the shared store.
    double[] big = new double[50_000];
    Arrays.setAll(big, i -> i * 0.5);
    assertArrayEquals(big, PolyRay.get(PolyRay.put(big), T));
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> PolyRay.put(new Thread()));
    assertTrue(bad.getMessage().contains("java.lang.Thread"), bad.getMessage());
  }

  @Test
  void argumentWithoutCrossLanguageFormFailsOnTheCallerSide() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PolyRay.task(PyFunction.of(MOD, "echo"), new Object()).remote());
    assertTrue(e.getMessage().contains("argument 0"), e.getMessage());
    assertTrue(e.getMessage().contains("java.lang.Object"), e.getMessage());
    assertTrue(e.getMessage().contains("Python"), e.getMessage());
  }

  @Test
  void unreachableObjectsAreFreed() throws InterruptedException {
    io.polyray.runtime.core.CoreWorker core =
        ((io.polyray.runtime.core.CoreRuntime) io.polyray.api.spi.Runtimes.current()).core();
    double[] big = new double[20_000]; // 160 KB: each put goes through the store
    for (int i = 0; i < 20; i++) {
      PolyRay.put(big);
      PolyRay.get(PolyRay.task(DriverTasks::add, i, 1).remote(), T);
    }
    int tracked = Integer.MAX_VALUE;
    for (int i = 0; i < 100 && tracked > 10; i++) {
      System.gc();
      Thread.sleep(50);
      tracked = core.trackedObjects();
    }
    // 40 objects were made and dropped; objects other tests still hold may remain.
    assertTrue(tracked <= 10, tracked + " objects are still counted");
  }

  // ------------------------------------------------------------------ Python

  @Test
  void pythonFunctions() {
    PyFunction<Long> add = PyFunction.of(MOD, "add", Long.class);
    assertEquals(5L, PolyRay.get(PolyRay.task(add, 2, 3).remote(), T));
    assertEquals("HEY!", PolyRay.get(PolyRay.task(PyFunction.of(MOD, "shout", String.class), "hey").remote(), T));
    Map<Object, Object> m = new LinkedHashMap<>();
    m.put("k", List.of(1L, 2L));
    m.put(3L, "three");
    assertEquals(m, PolyRay.get(PolyRay.task(PyFunction.of(MOD, "echo"), m).remote(), T));
    assertEquals(List.of("NoneType", "bool", "int", "float", "str", "bytes", "list", "dict"),
        PolyRay.get(PolyRay.task(PyFunction.of(MOD, "type_names"), Arrays.asList(null, true, 1, 1.5, "s",
            new byte[] {1}, List.of(), Map.of())).remote(), T));
  }

  @Test
  void pythonActorKeepsState() {
    PyActorHandle acc = PolyRay.actor(PyActorClass.of(MOD, "Accumulator"), 100).remote();
    List<ObjectRef<Long>> refs = new ArrayList<>();
    for (long i = 1; i <= 5; i++) {
      refs.add(acc.task(PyActorMethod.of("add", Long.class), i).remote());
    }
    assertEquals(List.of(101L, 103L, 106L, 110L, 115L), PolyRay.get(refs, T));
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L), PolyRay.get(acc.task(PyActorMethod.of("history")).remote(), T));
    assertEquals(Language.PYTHON, acc.getLanguage());
    assertEquals("Accumulator", acc.getClassName());
    PyActorHandle greeter = PolyRay.actor(PyActorClass.of(MOD, "Greeter"), "Hi").remote(); // a plain class
    assertEquals("Hi, Ann", PolyRay.get(greeter.task(PyActorMethod.of("greet", String.class), "Ann").remote(), T));
  }

  @Test
  void pythonActorHandleAsArgumentAndResult() {
    PyActorHandle acc = PolyRay.actor(PyActorClass.of(MOD, "Accumulator"), 0).remote();
    PyFunction<Long> callActor = PyFunction.of(MOD, "call_actor", Long.class);
    assertEquals(7L, PolyRay.get(PolyRay.task(callActor, acc, 7).remote(), T));
    assertEquals(8L, PolyRay.get(acc.task(PyActorMethod.of("add", Long.class), 1).remote(), T));
    // A handle that comes back from Python works here.
    PyActorHandle echoed = PolyRay.get(PolyRay.task(PyFunction.of(MOD, "echo", PyActorHandle.class), acc).remote(), T);
    assertEquals(acc, echoed);
    assertEquals(10L, PolyRay.get(echoed.task(PyActorMethod.of("add", Long.class), 2).remote(), T));
    // An actor created by a Python task, handed to the Java driver.
    PyActorHandle made = PolyRay.get(PolyRay.task(PyFunction.of(MOD, "make_accumulator", PyActorHandle.class), 40)
        .remote(), T);
    assertEquals(42L, PolyRay.get(made.task(PyActorMethod.of("add", Long.class), 2).remote(), T));
    // A Java actor handle passed to Python, which calls it.
    ActorHandle<Counter> c = PolyRay.actor(Counter::new, 1).remote();
    assertEquals(6L, PolyRay.get(PolyRay.task(PyFunction.of(MOD, "call_java_actor", Long.class), c, 5).remote(), T));
  }

  @Test
  void failuresToCreateOrFindPythonCode() {
    PyActorHandle broken = PolyRay.actor(PyActorClass.of(MOD, "NoSuchClass")).remote();
    ActorDiedException died = assertThrows(ActorDiedException.class,
        () -> PolyRay.get(broken.task(PyActorMethod.of("add"), 1).remote(), T));
    assertTrue(died.getMessage().contains("NoSuchClass"), died.getMessage());
    TaskException missing = assertThrows(TaskException.class,
        () -> PolyRay.get(PolyRay.task(PyFunction.of(MOD, "no_such_function"), 1).remote(), T));
    assertTrue(missing.getMessage().contains("no_such_function"), missing.getMessage());
    IllegalStateException twice = assertThrows(IllegalStateException.class, PolyRay::init);
    assertTrue(twice.getMessage().contains("already initialized"), twice.getMessage());
    assertTrue(PolyRay.isInitialized());
  }

  @Test
  void pythonExceptionIsACrossLanguageException() {
    CrossLanguageException e = assertThrows(CrossLanguageException.class,
        () -> PolyRay.get(PolyRay.task(PyFunction.of(MOD, "boom"), "oops").remote(), T));
    assertEquals(Language.PYTHON, e.getLanguage());
    assertEquals("ValueError", e.getTypeName());
    assertTrue(e.getMessage().contains("python says: oops"), e.getMessage());
    assertTrue(e.getRemoteTraceback().contains("Traceback"), e.getRemoteTraceback());
    assertTrue(e.getRemoteTraceback().contains("in boom"), e.getRemoteTraceback());
    PyActorHandle acc = PolyRay.actor(PyActorClass.of(MOD, "Accumulator"), 0).remote();
    CrossLanguageException m = assertThrows(CrossLanguageException.class,
        () -> PolyRay.get(acc.task(PyActorMethod.of("fail")).remote(), T));
    assertEquals("KeyError", m.getTypeName());
  }

  @Test
  void javaToPythonToJavaChainKeepsEveryHop() {
    CrossLanguageException e = assertThrows(CrossLanguageException.class,
        () -> PolyRay.get(PolyRay.task(PyFunction.of(MOD, "chain"), "deep").remote(), T));
    // Hop 1: the Python task that re-raised.
    assertEquals(Language.PYTHON, e.getLanguage());
    assertTrue(e.getRemoteTraceback().contains("in chain"), e.getRemoteTraceback());
    // Hop 2: the Java task that threw.
    assertInstanceOf(TaskException.class, e.getCause());
    TaskException java = (TaskException) e.getCause();
    assertEquals(Language.JAVA, java.getLanguage());
    assertEquals("java.lang.IllegalStateException", java.getTypeName());
    assertTrue(java.getMessage().contains("java says: deep"), java.getMessage());
    assertTrue(java.getRemoteTraceback().contains("DriverTasks.fail"), java.getRemoteTraceback());
    // The display message shows every hop.
    assertTrue(e.getMessage().contains("[PYTHON]") && e.getMessage().contains("[JAVA]"), e.getMessage());
  }

  @Test
  void ndarraysRoundTripThroughPython() {
    PyFunction<double[]> scale = PyFunction.of(MOD, "np_scale", double[].class);
    assertArrayEquals(new double[] {2, 4, 6}, PolyRay.get(PolyRay.task(scale, new double[] {1, 2, 3}, 2.0).remote(),
        T));
    assertEquals(List.of("float64", List.of(3L), 6.0),
        PolyRay.get(PolyRay.task(PyFunction.of(MOD, "np_info"), new double[] {1, 2, 3}).remote(), T));
    assertEquals(List.of("int64", List.of(2L), 3.0),
        PolyRay.get(PolyRay.task(PyFunction.of(MOD, "np_info"), new long[] {1, 2}).remote(), T));
    // 2 MB each way: through the shared store, not inline.
    double[] big = new double[250_000];
    Arrays.setAll(big, i -> i);
    double[] half = PolyRay.get(PolyRay.task(scale, big, 0.5).remote(), T);
    assertEquals(big.length, half.length);
    assertEquals(big[big.length - 1] * 0.5, half[half.length - 1]);
    // Declared as NdArray: a view of the shared memory, no copy.
    NdArray view = PolyRay.get(PolyRay.task(PyFunction.of(MOD, "np_scale", NdArray.class), big, 2.0).remote(), T);
    assertTrue(view.data().isDirect(), "an in-store array is a view of shared memory");
    assertEquals(big.length, view.size());
    assertEquals(2.0 * (big.length - 1), view.data().order(java.nio.ByteOrder.LITTLE_ENDIAN)
        .getDouble(8 * (big.length - 1)));
  }

  // ------------------------------------------------------------------ get, wait

  @Test
  void getTimesOut() {
    ObjectRef<Long> slow = PolyRay.task(DriverTasks::sleepAndReturn, 3000L).remote();
    long t0 = System.nanoTime();
    GetTimeoutException e = assertThrows(GetTimeoutException.class, () -> PolyRay.get(slow, 200));
    assertTrue((System.nanoTime() - t0) / 1_000_000 < 2500, "get(200 ms) returned late");
    assertTrue(e.getMessage().contains(slow.getIdHex()), e.getMessage());
    assertEquals(3000L, PolyRay.get(slow, T));
  }

  @Test
  void waitReturnsReadyAndUnready() {
    ObjectRef<Long> a = PolyRay.task(DriverTasks::sleepAndReturn, 0L).remote();
    ObjectRef<Long> b = PolyRay.put(1L);
    ObjectRef<Long> slow = PolyRay.task(DriverTasks::sleepAndReturn, 4000L).remote();
    WaitResult<Long> r = PolyRay.wait(List.of(a, b, slow), 2, T);
    assertEquals(2, r.getReady().size());
    assertTrue(r.getReady().containsAll(List.of(a, b)));
    assertEquals(List.of(slow), r.getUnready());
    WaitResult<Long> none = PolyRay.wait(List.of(slow), 1, 50);
    assertTrue(none.getReady().isEmpty());
    assertThrows(IllegalArgumentException.class, () -> PolyRay.wait(List.of(a, a), 1, 10));
    WaitResult<Long> all = PolyRay.wait(List.of(a, b, slow));
    assertEquals(3, all.getReady().size());
  }

  // ------------------------------------------------------------------ nested

  @Test
  void javaTasksSubmitTasksAndCallActors() {
    assertEquals(15L, PolyRay.get(PolyRay.task(DriverTasks::nestedSum, 5).remote(), T));
    ActorHandle<Counter> c = PolyRay.actor(Counter::new, 0).remote();
    assertEquals(3L, PolyRay.get(PolyRay.task(DriverTasks::bumpCounter, c, 3).remote(), T));
    assertEquals(4L, PolyRay.get(c.task(Counter::increment, 1).remote(), T));
  }
}

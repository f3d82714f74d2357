package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.JavaFunctionDescriptor;
import io.polyray.runtime.proto.Language;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.worker.fixtures.Calc;
import io.polyray.runtime.worker.fixtures.Counter;
import java.lang.reflect.Method;
import java.util.List;
import org.junit.jupiter.api.Test;

class FunctionResolverTest {
  private final FunctionResolver resolver =
      new FunctionResolver(new CodeSearchPath(List.of("/nonexistent/dir", "/tmp"), getClass().getClassLoader()));

  private static final String CALC = Calc.class.getName();
  private static final String COUNTER = Counter.class.getName();

  static JavaFunctionDescriptor d(String cls, String method) {
    return d(cls, method, "");
  }

  static JavaFunctionDescriptor d(String cls, String method, String sig) {
    return JavaFunctionDescriptor.newBuilder().setClassName(cls).setMethodName(method).setSignature(sig).build();
  }

  private Invocable task(String cls, String method, int n) throws TaskFailure {
    return resolver.resolve(TaskType.NORMAL_TASK, d(cls, method), n);
  }

  private String failure(Executable e) {
    TaskFailure f = assertThrows(TaskFailure.class, e::run);
    assertEquals(ErrorKind.RUNTIME_ERROR, f.record().getKind());
    assertEquals(Language.JAVA, f.record().getLanguage());
    return f.record().getTypeName() + ": " + f.record().getMessage();
  }

  interface Executable {
    void run() throws Exception;
  }

  @Test
  void staticMethodByNameAndArity() throws Exception {
    Invocable two = task(CALC, "add", 2);
    assertEquals(5L, two.invoke(null, new Object[] {2L, 3L}));
    Invocable three = task(CALC, "add", 3);
    assertEquals(6L, three.invoke(null, new Object[] {1L, 2L, 3L}));
    assertTrue(two.isStatic());
    assertEquals(CALC + ".add(long, long)", two.displayName());
  }

  @Test
  void overloadsOfOneArityNeedASignature() throws Exception {
    String msg = failure(() -> task(CALC, "twice", 1));
    assertTrue(msg.startsWith("java.lang.IllegalArgumentException: ambiguous call"), msg);
    assertTrue(msg.contains(CALC + ".twice(long) (J)J"), msg);
    assertTrue(msg.contains(CALC + ".twice(double) (D)D"), msg);
    assertTrue(msg.contains("JVM signature"), msg);

    Invocable l = resolver.resolve(TaskType.NORMAL_TASK, d(CALC, "twice", "(J)J"), 1);
    assertEquals(8L, l.invoke(null, new Object[] {4L}));
    Invocable dd = resolver.resolve(TaskType.NORMAL_TASK, d(CALC, "twice", "(D)D"), 1);
    assertEquals(3.0, dd.invoke(null, new Object[] {1.5}));
    // parameters only (no return type) select too
    Invocable p = resolver.resolve(TaskType.NORMAL_TASK, d(CALC, "twice", "(D)"), 1);
    assertEquals(dd.executable(), p.executable());
  }

  @Test
  void signatureThatMatchesNothingListsCandidates() {
    String msg = failure(() -> resolver.resolve(TaskType.NORMAL_TASK, d(CALC, "twice", "(I)I"), 1));
    assertTrue(msg.contains("no " + CALC + ".twice with JVM signature (I)I"), msg);
    assertTrue(msg.contains("(J)J") && msg.contains("(D)D"), msg);
    String count = failure(() -> resolver.resolve(TaskType.NORMAL_TASK, d(CALC, "add", "(JJ)J"), 3));
    assertTrue(count.contains("takes 2 arguments, the call passed 3"), count);
  }

  @Test
  void wrongArgumentCount() {
    String msg = failure(() -> task(CALC, "add", 5));
    assertTrue(msg.contains("wrong number of arguments: the call passed 5"), msg);
    assertTrue(msg.contains("which takes 2 or 3"), msg);
  }

  @Test
  void unknownMethodAndClass() {
    String msg = failure(() -> task(CALC, "nope", 0));
    assertTrue(msg.startsWith("java.lang.NoSuchMethodException: class " + CALC + " has no public static method named 'nope'"), msg);
    assertTrue(msg.contains("concat"), msg);
    String hidden = failure(() -> task(CALC, "hidden", 0));
    assertTrue(hidden.contains("exists but is not public"), hidden);
    String inst = failure(() -> task(CALC, "instanceOnly", 0));
    assertTrue(inst.contains("is an instance method, not static"), inst);
    String cls = failure(() -> task("com.example.Missing", "f", 0));
    assertTrue(cls.startsWith("java.lang.ClassNotFoundException: class com.example.Missing was not found in the code search path"), cls);
    assertTrue(cls.contains("/nonexistent/dir (missing)") && cls.contains("/tmp"), cls);
    String nested = failure(() -> task(CALC.replace("Calc", "Calc.Inner"), "hello", 1));
    assertTrue(nested.contains("Outer$Inner"), nested);
  }

  @Test
  void nestedClasses() throws Exception {
    Invocable inner = task(CALC + "$Inner", "hello", 1);
    assertEquals("hello x", inner.invoke(null, new Object[] {"x"}));
    Invocable hidden = task(CALC + "$Hidden", "one", 0);
    assertEquals(1, hidden.invoke(null, new Object[0]));
  }

  @Test
  void constructorsAndFactories() throws Exception {
    Invocable none = resolver.resolve(TaskType.ACTOR_CREATION_TASK, d(COUNTER, "<init>"), 0);
    assertTrue(none.isConstructor());
    assertEquals(0L, ((Counter) none.invoke(null, new Object[0])).get());
    String amb = failure(() -> resolver.resolve(TaskType.ACTOR_CREATION_TASK, d(COUNTER, "<init>"), 1));
    assertTrue(amb.contains("ambiguous call: " + COUNTER + " constructor has 3 overloads"), amb);
    assertTrue(amb.contains(COUNTER + "(long) (J)V"), amb);
    Invocable s = resolver.resolve(TaskType.ACTOR_CREATION_TASK, d(COUNTER, "<init>", "(Ljava/lang/String;)V"), 1);
    assertEquals(12L, ((Counter) s.invoke(null, new Object[] {"12"})).get());
    Invocable factory = resolver.resolve(TaskType.ACTOR_CREATION_TASK, d(COUNTER, "create"), 1);
    assertEquals(5L, ((Counter) factory.invoke(null, new Object[] {5L})).get());
    String asTask = failure(() -> resolver.resolve(TaskType.NORMAL_TASK, d(COUNTER, "<init>"), 0));
    assertTrue(asTask.contains("is a constructor"), asTask);
  }

  @Test
  void classesWithoutUsableConstructors() {
    String base = "io.polyray.runtime.worker.fixtures.Things$";
    String abs = failure(() -> resolver.resolve(TaskType.ACTOR_CREATION_TASK, d(base + "Abstract", "<init>"), 0));
    assertTrue(abs.contains("abstract class"), abs);
    String priv = failure(() -> resolver.resolve(TaskType.ACTOR_CREATION_TASK, d(base + "Private", "<init>"), 0));
    assertTrue(priv.contains("has no public constructor") && priv.contains("declared:"), priv);
    String inner = failure(() -> resolver.resolve(TaskType.ACTOR_CREATION_TASK, d(base + "Inner", "<init>"), 0));
    assertTrue(inner.contains("inner class"), inner);
    String iface = failure(() -> resolver.resolve(TaskType.ACTOR_CREATION_TASK,
        d("io.polyray.runtime.worker.fixtures.Greeter", "<init>"), 0));
    assertTrue(iface.contains("interface"), iface);
    TaskFailure init = assertThrows(TaskFailure.class,
        () -> resolver.resolve(TaskType.NORMAL_TASK, d(base + "BadInit", "value"), 0));
    assertTrue(init.record().getMessage().contains("static initializer"), init.record().getMessage());
    assertEquals("java.lang.NumberFormatException", init.record().getCause().getTypeName());
  }

  @Test
  void actorMethodsIncludeInheritedAndDefaultMethods() throws Exception {
    Counter c = new Counter(3);
    Invocable add = resolver.resolveActorMethod(Counter.class, d(COUNTER, "add"), 1);
    assertEquals(4L, add.invoke(c, new Object[] {1L}));
    Invocable get = resolver.resolveActorMethod(Counter.class, d(COUNTER, "get"), 0);
    assertEquals(baseCounterName(), get.executable().getDeclaringClass().getName());
    assertEquals(4L, get.invoke(c, new Object[0]));
    Invocable greet = resolver.resolveActorMethod(Counter.class, d(COUNTER, "greet"), 1);
    assertTrue(((Method) greet.executable()).isDefault());
    assertEquals("counter greets bob", greet.invoke(c, new Object[] {"bob"}));
    Invocable toString = resolver.resolveActorMethod(Counter.class, d(COUNTER, "hashCode"), 0);
    assertEquals(c.hashCode(), toString.invoke(c, new Object[0]));
    String stat = failure(() -> resolver.resolveActorMethod(Counter.class, d(COUNTER, "staticHelper"), 0));
    assertTrue(stat.contains("is a static method"), stat);
  }

  private static String baseCounterName() {
    return "io.polyray.runtime.worker.fixtures.BaseCounter";
  }

  @Test
  void descriptors() throws Exception {
    assertEquals("(JLjava/lang/String;[I[[D)V", Invocable.descriptor(
        Sample.class.getMethod("m", long.class, String.class, int[].class, double[][].class)));
    assertEquals("Lio/polyray/runtime/worker/fixtures/Calc$Inner;", Invocable.descriptor(Calc.Inner.class));
    assertEquals("ZBCSIJFD", Invocable.descriptor(boolean.class) + Invocable.descriptor(byte.class)
        + Invocable.descriptor(char.class) + Invocable.descriptor(short.class) + Invocable.descriptor(int.class)
        + Invocable.descriptor(long.class) + Invocable.descriptor(float.class) + Invocable.descriptor(double.class));
  }

  /** For descriptor checks. */
  public static class Sample {
    public static void m(long a, String b, int[] c, double[][] d) {}
  }
}

package io.polyray.api.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.api.Language;
import io.polyray.api.function.PolyRayFunc1;
import io.polyray.api.function.PolyRayFunc2;
import io.polyray.api.function.PolyRayFuncVoid1;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Method references resolve to (class, method, JVM signature, return type) without a runtime. */
class MethodReferencesTest {
  /** Fixtures: a static method, a generic one, a constructor, instance methods. */
  public static final class Calc {
    private long total;

    public Calc() {}

    public Calc(long start) {
      total = start;
    }

    public static long add(long a, long b) {
      return a + b;
    }

    public static List<String> names(int n) {
      return List.of();
    }

    public long increment(long by) {
      total += by;
      return total;
    }

    public void reset(long to) {
      total = to;
    }

    public static Calc create(long start) {
      return new Calc(start);
    }

    /** An actor function (handle.call): the actor first. */
    public static long bump(Calc c, long by) {
      return c.increment(by);
    }
  }

  @Test
  void actorFunctionsAreStaticWithTheActorFirst() {
    PolyRayFunc2<Calc, Long, Long> bump = Calc::bump;
    FunctionSpec s = MethodReferences.describeActorFunction(bump);
    assertEquals(FunctionSpec.Kind.TASK, s.getKind());
    assertEquals(Calc.class.getName(), s.getClassName());
    assertEquals("bump", s.getFunctionName());
    assertEquals("(L" + Calc.class.getName().replace('.', '/') + ";J)J", s.getSignature());
    assertEquals(long.class, s.getReturnType());
    PolyRayFunc2<Calc, Long, Long> instance = Calc::increment;
    String msg = assertThrows(IllegalArgumentException.class, () -> MethodReferences.describeActorFunction(instance))
        .getMessage();
    assertTrue(msg.contains("Calc::increment is not a static method: handle.call takes a static function"), msg);
  }

  private static FunctionSpec task2(PolyRayFunc2<Long, Long, Long> f) {
    return MethodReferences.describe(f, FunctionSpec.Kind.TASK);
  }

  @Test
  void staticMethodReference() {
    FunctionSpec s = task2(Calc::add);
    assertEquals(Language.JAVA, s.getLanguage());
    assertEquals(Calc.class.getName(), s.getClassName());
    assertEquals("add", s.getFunctionName());
    assertEquals("(JJ)J", s.getSignature());
    assertEquals(long.class, s.getReturnType());
    PolyRayFunc1<Integer, List<String>> names = Calc::names;
    FunctionSpec n = MethodReferences.describe(names, FunctionSpec.Kind.TASK);
    assertEquals("(I)Ljava/util/List;", n.getSignature());
    assertEquals("java.util.List<java.lang.String>", n.getReturnType().getTypeName());
  }

  @Test
  void constructorsAndFactories() {
    PolyRayFunc1<Long, Calc> ctor = Calc::new;
    FunctionSpec c = MethodReferences.describe(ctor, FunctionSpec.Kind.ACTOR_CREATION);
    assertEquals("<init>", c.getFunctionName());
    assertEquals("(J)V", c.getSignature());
    assertEquals(Calc.class, c.getReturnType());
    PolyRayFunc1<Long, Calc> factory = Calc::create;
    assertEquals("create", MethodReferences.describe(factory, FunctionSpec.Kind.ACTOR_CREATION).getFunctionName());
  }

  @Test
  void instanceMethods() {
    PolyRayFunc2<Calc, Long, Long> inc = Calc::increment;
    FunctionSpec m = MethodReferences.describe(inc, FunctionSpec.Kind.ACTOR_METHOD);
    assertEquals("increment", m.getFunctionName());
    assertEquals("(J)J", m.getSignature());
    PolyRayFuncVoid2Holder.check();
  }

  /** void instance methods report Void as their result type. */
  static final class PolyRayFuncVoid2Holder {
    static void check() {
      io.polyray.api.function.PolyRayFuncVoid2<Calc, Long> reset = Calc::reset;
      FunctionSpec r = MethodReferences.describe(reset, FunctionSpec.Kind.ACTOR_METHOD);
      assertEquals(Void.class, r.getReturnType());
    }
  }

  @Test
  void wrongKindsAndLambdasAreRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> MethodReferences.describe((PolyRayFunc2<Calc, Long, Long>) Calc::increment, FunctionSpec.Kind.TASK));
    assertTrue(e.getMessage().contains("not a static method"), e.getMessage());
    PolyRayFunc1<Long, Long> lambda = x -> x + 1;
    e = assertThrows(IllegalArgumentException.class, () -> MethodReferences.describe(lambda, FunctionSpec.Kind.TASK));
    assertTrue(e.getMessage().contains("not a lambda"), e.getMessage());
    Calc obj = new Calc();
    PolyRayFunc1<Long, Long> bound = obj::increment;
    e = assertThrows(IllegalArgumentException.class, () -> MethodReferences.describe(bound, FunctionSpec.Kind.TASK));
    assertTrue(e.getMessage().contains("bound") || e.getMessage().contains("obj::"), e.getMessage());
    PolyRayFuncVoid1<Long> ok = Calc::create;
    assertEquals("create", MethodReferences.describe(ok, FunctionSpec.Kind.TASK).getFunctionName());
  }

  @Test
  void overloadsOfTheFacadeCompile() {
    // Compile-time check of overload resolution: these lines must type-check.
    io.polyray.api.call.TaskCaller<Long> t = io.polyray.api.PolyRay.task(Calc::add, 1, 2);
    io.polyray.api.call.TaskCaller<List<String>> n = io.polyray.api.PolyRay.task(Calc::names, 3);
    // Calc's constructors are overloaded: a type witness picks one.
    io.polyray.api.call.ActorCreator<io.polyray.api.ActorHandle<Calc>> a =
        io.polyray.api.PolyRay.<Long, Calc>actor(Calc::new, 5);
    io.polyray.api.call.ActorCreator<io.polyray.api.ActorHandle<Calc>> a0 = io.polyray.api.PolyRay.actor(Calc::new);
    assertTrue(t != null && n != null && a != null && a0 != null);
  }
}

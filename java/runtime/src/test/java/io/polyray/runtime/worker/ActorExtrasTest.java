package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.proto.FunctionDescriptor;
import io.polyray.runtime.proto.JavaFunctionDescriptor;
import io.polyray.runtime.proto.TaskArg;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import io.polyray.runtime.ref.RefHooks;
import io.polyray.runtime.worker.fixtures.Counter;
import io.polyray.runtime.worker.fixtures.GroupedFixtures;
import io.polyray.runtime.worker.fixtures.GroupedFixtures.Grouped;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The worker's side of @ConcurrencyGroup (MethodGroups) and __polyray_call__ (ActorBuiltins.resolveCall). */
class ActorExtrasTest {
  private final Codec codec = new Codec(RefHooks.INSTANCE);
  private final FunctionResolver resolver =
      new FunctionResolver(new CodeSearchPath(List.of("/nonexistent/dir"), getClass().getClassLoader()));
  private static final String FNS = GroupedFixtures.class.getName();

  @Test
  void methodsDeclareTheirGroupByNameAndArity() throws Exception {
    MethodGroups g = MethodGroups.of(Grouped.class, Set.of("io", "cpu", "spare"));
    assertEquals("io", g.groupOf("read", 0));
    assertEquals("io", g.groupOf("read", 1));
    assertEquals("cpu", g.groupOf("crunch", 1));
    assertEquals("", g.groupOf("crunch", 2));
    assertEquals("", g.groupOf("plain", 0));
    assertEquals("io", MethodGroups.of(GroupedFixtures.SubGrouped.class, Set.of("io", "cpu")).groupOf("read", 0));
    assertSame(MethodGroups.NONE, MethodGroups.of(Counter.class, Set.of()));
    assertEquals("", MethodGroups.NONE.groupOf("read", 0));
  }

  @Test
  void aGroupTheActorDoesNotDeclareFailsTheCreationNamingIt() {
    TaskFailure f = assertThrows(TaskFailure.class, () -> MethodGroups.of(Grouped.class, Set.of("io")));
    String msg = f.record().getMessage();
    assertTrue(msg.contains(".crunch declares @ConcurrencyGroup(\"cpu\")") && msg.contains("its groups: io"), msg);
    f = assertThrows(TaskFailure.class, () -> MethodGroups.of(Grouped.class, Set.of()));
    assertTrue(f.record().getMessage().contains("its groups: none"), f.record().getMessage());
    f = assertThrows(TaskFailure.class, () -> MethodGroups.of(GroupedFixtures.EmptyGroup.class, Set.of("io")));
    assertTrue(f.record().getMessage().contains("must not be empty"), f.record().getMessage());
    f = assertThrows(TaskFailure.class, () -> MethodGroups.of(GroupedFixtures.Conflicting.class, Set.of("io", "cpu")));
    assertTrue(f.record().getMessage().contains("declare different concurrency groups"), f.record().getMessage());
  }

  private TaskSpec call(Object... args) {
    TaskSpec.Builder b = TaskSpec.newBuilder().setType(TaskType.ACTOR_TASK).setFunction(FunctionDescriptor
        .newBuilder().setJava(JavaFunctionDescriptor.newBuilder().setClassName(Counter.class.getName())
            .setMethodName("__polyray_call__")));
    for (Object a : args) {
      b.addArgs(TaskArg.newBuilder().setValue(codec.encode(a).toEnvelope()));
    }
    return b.build();
  }

  private String callFailure(Class<?> actorClass, TaskSpec spec) {
    TaskFailure f = assertThrows(TaskFailure.class,
        () -> ActorBuiltins.resolveCall(resolver, actorClass, spec, codec));
    return f.record().getMessage();
  }

  @Test
  void aCallRunsTheNamedFunctionWithTheActorFirst() throws Exception {
    Invocable fn = ActorBuiltins.resolveCall(resolver, Counter.class, call(FNS + ".bump", 5L), codec);
    Counter c = new Counter(10);
    assertEquals(15L, fn.invoke(null, new Object[] {c, 5L}));
    // With its JVM descriptor, and a function whose first parameter is a supertype of the actor's class.
    String sig = "(L" + Counter.class.getName().replace('.', '/') + ";J)J";
    assertEquals(17L, ActorBuiltins.resolveCall(resolver, Counter.class, call(FNS + ".bump" + sig, 2L), codec)
        .invoke(null, new Object[] {c, 2L}));
    assertEquals("Counter", ActorBuiltins.resolveCall(resolver, Counter.class, call(FNS + ".kind"), codec)
        .invoke(null, new Object[] {c}));
  }

  @Test
  void badCallsAreErrorsNamingWhatIsWrong() {
    String msg = callFailure(Counter.class, call(FNS + ".notForCounter", 1L));
    assertTrue(msg.contains("notForCounter is not a function of actor class " + Counter.class.getName())
        && msg.contains("its first parameter is java.lang.String"), msg);
    msg = callFailure(Grouped.class, call(FNS + ".bump", 1L));
    assertTrue(msg.contains("bump is not a function of actor class " + Grouped.class.getName()), msg);
    msg = callFailure(Counter.class, call());
    assertTrue(msg.contains("takes the function to run first") && msg.contains("got no name"), msg);
    msg = callFailure(Counter.class, call(42L));
    assertTrue(msg.contains("got Long 42"), msg);
    msg = callFailure(Counter.class, call("bump"));
    assertTrue(msg.contains("'bump' does not name a Java function"), msg);
    msg = callFailure(Counter.class, call(FNS + ".nope", 1L));
    assertTrue(msg.contains("nope"), msg);
  }
}

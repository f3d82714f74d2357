package io.polyray.runtime.worker;

import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.proto.JavaFunctionDescriptor;
import io.polyray.runtime.proto.TaskArg;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import java.lang.reflect.Method;
import java.util.Set;

/**
 * The built-in methods every Java actor answers besides its own (and Ray's spellings of
 * them): {@code __polyray_ready__}, {@code __polyray_terminate__} and {@code __polyray_call__}.
 *
 * <p>Owns the set of their names and what they run. Invariants: a built-in takes no
 * arguments and needs no actor instance (its methods are static); terminate throws
 * {@link io.polyray.api.exception.ActorExitException}, which the {@link TaskExecutor} turns
 * into a graceful exit after the calls queued before it. {@code __polyray_call__} (Ray's
 * {@code __ray_call__}) runs a named public static Java function whose first parameter takes the
 * actor: argument 0 of the call names it ({@code "pkg.Fns.bump"}, optionally followed by its JVM
 * descriptor {@code "(Lpkg/Counter;J)J"}), the function gets the actor instance and the call's
 * other arguments. Split out of TaskExecutor so that
 * file keeps to one concept (running tasks), not the actor protocol's fixed methods.
 */
final class ActorBuiltins {
  private ActorBuiltins() {
  }

  /** Built-in methods of every Java actor (and Ray's spellings): ready and terminate. */
  static final Set<String> METHODS = Set.of(
      "__polyray_ready__", "__ray_ready__", "__polyray_terminate__", "__ray_terminate__");

  /** {@code __polyray_call__} and Ray's spelling: run a function with the actor instance. */
  static final Set<String> CALLS = Set.of("__polyray_call__", "__ray_call__");

  /**
   * The function a {@code __polyray_call__} names in its argument 0, checked to be a public
   * static method whose first parameter takes an instance of {@code actorClass}.
   *
   * @param resolver finds the function on the code search path
   * @param actorClass the class of the hosted actor
   * @param spec the call (argument 0: the function's name; the others: its arguments after the actor)
   * @param codec decodes argument 0
   * @return the function (invoke with a null target, the actor as argument 0)
   * @throws TaskFailure naming what is wrong: no name, not a function, not one of this actor's class
   */
  static Invocable resolveCall(FunctionResolver resolver, Class<?> actorClass, TaskSpec spec, Codec codec)
      throws TaskFailure {
    String call = spec.getFunction().getJava().getMethodName();
    Object named = spec.getArgsCount() == 0 ? null : name(spec.getArgs(0), codec);
    if (!(named instanceof String) || ((String) named).isEmpty()) {
      throw failure(call + " takes the function to run first, named \"pkg.Cls.method\" (a Java caller: "
          + "handle.call(Cls::method, ...), Python: handle." + call + ".remote(polyray.java_function(...), ...)); "
          + "got " + (named == null ? "no name" : named.getClass().getSimpleName() + " " + named));
    }
    String text = (String) named;
    int paren = text.indexOf('(');
    String head = paren < 0 ? text : text.substring(0, paren);
    int dot = head.lastIndexOf('.');
    if (dot <= 0 || dot == head.length() - 1) {
      throw failure(call + ": '" + text + "' does not name a Java function as \"pkg.Cls.method\"");
    }
    JavaFunctionDescriptor d = JavaFunctionDescriptor.newBuilder().setClassName(head.substring(0, dot))
        .setMethodName(head.substring(dot + 1)).setSignature(paren < 0 ? "" : text.substring(paren)).build();
    // The function takes the actor and the call's other arguments: as many as the call passed.
    Invocable fn = resolver.resolve(TaskType.NORMAL_TASK, d, spec.getArgsCount());
    Class<?>[] params = ((Method) fn.executable()).getParameterTypes();
    if (params.length == 0 || !params[0].isAssignableFrom(actorClass)) {
      throw failure(call + ": " + head + " is not a function of actor class " + actorClass.getName()
          + ": its first parameter is " + (params.length == 0 ? "missing" : params[0].getName())
          + " (a function run with " + call + " takes the actor instance first)");
    }
    return fn;
  }

  private static Object name(TaskArg a, Codec codec) throws TaskFailure {
    if (a.hasRef()) {
      throw failure("argument 0 of __polyray_call__ (the function's name) must be a string passed by value, "
          + "not an ObjectRef");
    }
    try {
      return codec.decode(a.getValue(), false);
    } catch (IllegalArgumentException e) {
      throw failure("argument 0 of __polyray_call__ (the function's name) cannot be decoded: " + e.getMessage());
    }
  }

  private static TaskFailure failure(String message) {
    return new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalArgumentException", message));
  }

  /**
   * What a built-in method runs.
   *
   * @param name one of {@link #METHODS}
   * @param argCount the arguments the call passed (must be none)
   * @return the method to invoke (with a null target)
   * @throws TaskFailure when the call passed arguments
   */
  static Invocable resolve(String name, int argCount) throws TaskFailure {
    if (argCount != 0) {
      throw new TaskFailure(ErrorRecords.runtimeError("java.lang.IllegalArgumentException",
          name + " takes no arguments, got " + argCount));
    }
    try {
      String target = name.endsWith("_ready__") ? "ready" : "terminate";
      return new Invocable(Builtins.class.getDeclaredMethod(target));
    } catch (NoSuchMethodException e) {
      throw new IllegalStateException(e);
    }
  }

  /** What the built-in methods run (static: the actor instance is not needed). */
  static final class Builtins {
    private Builtins() {
    }

    /**
     * {@code __polyray_ready__}: true once the actor exists.
     *
     * @return true
     */
    public static boolean ready() {
      return true;
    }

    /** {@code __polyray_terminate__}: a graceful exit, after the calls queued before it. */
    public static void terminate() {
      throw new io.polyray.api.exception.ActorExitException("__polyray_terminate__ was called");
    }
  }
}

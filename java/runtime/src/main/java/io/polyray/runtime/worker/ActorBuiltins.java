package io.polyray.runtime.worker;

import io.polyray.runtime.codec.ErrorRecords;
import java.util.Set;

/**
 * The built-in methods every Java actor answers besides its own (and Ray's spellings of
 * them): {@code __polyray_ready__} and {@code __polyray_terminate__}.
 *
 * <p>Owns the set of their names and what they run. Invariants: a built-in takes no
 * arguments and needs no actor instance (its methods are static); terminate throws
 * {@link io.polyray.api.exception.ActorExitException}, which the {@link TaskExecutor} turns
 * into a graceful exit after the calls queued before it. Split out of TaskExecutor so that
 * file keeps to one concept (running tasks), not the actor protocol's fixed methods.
 */
final class ActorBuiltins {
  private ActorBuiltins() {
  }

  /** Built-in methods of every Java actor (and Ray's spellings): ready and terminate. */
  static final Set<String> METHODS = Set.of(
      "__polyray_ready__", "__ray_ready__", "__polyray_terminate__", "__ray_terminate__");

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

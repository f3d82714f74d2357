package io.polyray.runtime.worker;

import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.TaskType;
import java.lang.reflect.Field;
import java.util.Map;

/**
 * {@code OMP_NUM_THREADS} of a Java worker (issue 17, as Ray and the Python/C++ workers): the
 * running task's (or actor's, at its creation) CPUs as an int, at least 1, unless the worker's
 * environment set it (the user's, or a runtime env's env_vars). Java cannot change its own
 * environment through a public API: the value goes into the map behind {@link System#getenv()}
 * (reached with {@code sun.misc.Unsafe}, no {@code --add-opens} needed), so Java code reading
 * {@code System.getenv("OMP_NUM_THREADS")} sees it. Not done: native libraries reading the C
 * environment (getenv(3)) and child processes of the worker do not see a per-task value.
 */
final class OmpThreads {
  static final String NAME = "OMP_NUM_THREADS";
  private static final boolean AUTO = System.getenv(NAME) == null;
  private static final Map<String, String> ENV = writableEnv();

  private OmpThreads() {}

  /** Sets the variable for {@code spec} (a normal task or an actor's creation; actor calls keep the actor's). */
  static void set(TaskSpec spec) {
    if (!AUTO || ENV == null || spec.getType() == TaskType.ACTOR_TASK) {
      return;
    }
    double cpus = spec.getResourcesOrDefault("CPU", 0.0);
    ENV.put(NAME, Integer.toString(Math.max(1, (int) cpus)));
  }

  /** The mutable map behind System.getenv()'s unmodifiable view, or null where the JDK hides it. */
  @SuppressWarnings("unchecked")
  private static Map<String, String> writableEnv() {
    try {
      Field unsafeField = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
      unsafeField.setAccessible(true);
      sun.misc.Unsafe unsafe = (sun.misc.Unsafe) unsafeField.get(null);
      Map<String, String> view = System.getenv();
      Field inner = Class.forName("java.util.Collections$UnmodifiableMap").getDeclaredField("m");
      @SuppressWarnings("deprecation")
      long offset = unsafe.objectFieldOffset(inner);
      Map<String, String> env = (Map<String, String>) unsafe.getObject(view, offset);
      env.put(NAME + "_PROBE", "1"); // fails here, not per task, where it is not writable
      env.remove(NAME + "_PROBE");
      return env;
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      System.err.println("polyray: OMP_NUM_THREADS is not set per task (" + e + ")");
      return null;
    }
  }
}

package io.polyray.api.spi;

/**
 * The process's runtime: installed by {@code PolyRay.init} in a driver, or by the worker
 * itself in a worker process (so that tasks can submit tasks). Internal: user code goes
 * through {@code io.polyray.api.PolyRay}.
 */
public final class Runtimes {
  private static volatile PolyRayRuntime current;

  private Runtimes() {}

  /**
   * The installed runtime.
   *
   * @return the runtime, or null before init and after shutdown
   */
  public static PolyRayRuntime current() {
    return current;
  }

  /**
   * Installs the process's runtime.
   *
   * @param runtime the runtime
   * @throws IllegalStateException when one is installed already
   */
  public static synchronized void install(PolyRayRuntime runtime) {
    if (current != null) {
      throw new IllegalStateException("a polyray runtime is already installed in this process");
    }
    current = runtime;
  }

  /**
   * Removes {@code runtime} if it is the installed one.
   *
   * @param runtime the runtime to remove
   */
  public static synchronized void uninstall(PolyRayRuntime runtime) {
    if (current == runtime) {
      current = null;
    }
  }
}

package io.polyray.runtime;

import io.polyray.runtime.worker.JavaWorker;
import io.polyray.runtime.worker.WorkerConfig;

/**
 * The main class of a Java worker process, started by the raylet as
 *
 * <pre>
 * java -cp &lt;polyray-runtime jar&gt;:&lt;its lib/*&gt;:&lt;code search path&gt; \
 *      -Dpolyray.store.library=&lt;libpolyray_store.so&gt; io.polyray.runtime.WorkerMain
 * </pre>
 *
 * with the POLYRAY_* environment of every worker (raylet and GCS addresses, node,
 * worker and job IDs in hex, startup token, store name, POLYRAY_CODE_SEARCH_PATH,
 * POLYRAY_NODE_IP). It serves the CoreWorkerService, registers with the raylet, then
 * runs tasks on the main thread until the raylet stops it (SIGTERM) or asks it to exit.
 * Exit status 2: the environment is incomplete; 3: registration failed.
 */
public final class WorkerMain {
  private WorkerMain() {}

  /**
   * Halts this JVM once the raylet that started it (its parent process) is gone: a
   * worker of a dead node must not linger (the Python worker does the same).
   */
  private static void exitWithRaylet() {
    long parent = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
    if (parent <= 1) {
      return;
    }
    Thread watch =
        new Thread(
            () -> {
              while (true) {
                try {
                  Thread.sleep(1000);
                } catch (InterruptedException e) {
                  return;
                }
                boolean alive = ProcessHandle.of(parent).map(ProcessHandle::isAlive).orElse(false);
                if (!alive) {
                  Runtime.getRuntime().halt(1);
                }
              }
            },
            "polyray-raylet-watch");
    watch.setDaemon(true);
    watch.start();
  }

  /**
   * Starts the worker.
   *
   * @param args ignored (everything comes from the environment)
   */
  public static void main(String[] args) {
    // The runtime ships no slf4j binding (user code brings its own): without this, the
    // first use of Arrow's logger prints slf4j's three-line "no providers" warning into
    // the driver's output. Set the property on the command line to see it.
    if (System.getProperty("slf4j.internal.verbosity") == null) {
      System.setProperty("slf4j.internal.verbosity", "ERROR");
    }
    WorkerConfig config;
    try {
      config = WorkerConfig.fromEnv(System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("polyray java worker: " + e.getMessage());
      System.exit(2);
      return;
    }
    exitWithRaylet();
    JavaWorker worker = new JavaWorker(config, () -> Runtime.getRuntime().halt(0));
    try {
      worker.start();
    } catch (Exception e) {
      System.err.println("polyray java worker: cannot start: " + e.getMessage());
      System.exit(3);
      return;
    }
    worker.installApiRuntime(); // tasks may call PolyRay.task/actor/get/put
    worker.runTasks();
    System.exit(0);
  }
}

package rtenv;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyFunction;
import java.util.List;

/**
 * A Java driver whose job has a runtime env (tests/runtime_env/test_drivers.py), given as the
 * system property polyray.job.runtimeEnv: a working_dir (a node-local folder holding a Python
 * module) and env_vars. It calls that module's function and a Java task, which report their
 * worker's cwd and the variable.
 *
 * <p>args: host:port of the head, then the code search path.
 */
public final class DriverMain {
  private DriverMain() {}

  public static void main(String[] args) {
    PolyRayConfig cfg = new PolyRayConfig().setAddress(args[0]).setCodeSearchPath(List.of(args[1]));
    PolyRay.init(cfg);
    try {
      long t = 90_000;
      ObjectRef<String> py = PolyRay.task(PyFunction.of("rtenv_mod", "where_text", String.class)).remote();
      System.out.println("RESULT py=" + PolyRay.get(py, t));
      System.out.println("RESULT java=" + PolyRay.get(PolyRay.task(Where::where, "j").remote(), t));
    } finally {
      PolyRay.shutdown();
    }
    System.out.println("DONE");
  }
}

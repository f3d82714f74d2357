package xlangtest;

import io.polyray.api.PolyRay;
import io.polyray.api.PyFunction;
import java.util.ArrayList;
import java.util.List;

/** The Java hops of the four-hop error chain: Python driver -> viaPython -> Python -> fail. */
public class Chain {
  /** Calls the Python function xlang_chain.call_java(message) from inside this Java task. */
  public static String viaPython(String message) {
    PyFunction<String> f = PyFunction.of("xlang_chain", "call_java", String.class);
    // This worker's code search path, for the Python hop (see xlang_chain.call_java).
    String csp = System.getenv().getOrDefault("POLYRAY_CODE_SEARCH_PATH", "");
    List<String> path = new ArrayList<>();
    for (String p : csp.split(":")) {
      if (!p.isEmpty()) {
        path.add(p);
      }
    }
    return PolyRay.get(PolyRay.task(f, message, path).remote(), 90_000);
  }

  /** Always throws. */
  public static String fail(String message) {
    throw new IllegalStateException("deep failure: " + message);
  }
}

package scaledrv;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.PyFunction;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * args: n pidFile codeSearchPathDir. Holds refs to n stored strings a Python worker put, prints
 * READY, waits for a line on stdin (the test stops the owner meanwhile), gets them with a 10 s
 * timeout and prints "RESULT n=.. ok=1|0", or "TIMEOUT ..." (test_get_stored_java_driver.py).
 */
public final class GetStored {
  private GetStored() {}

  public static void main(String[] args) throws IOException {
    int n = Integer.parseInt(args[0]);
    PolyRay.init(new PolyRayConfig().setCodeSearchPath(List.of(args[2])));
    try {
      List<?> raw = PolyRay.get(
          PolyRay.task(PyFunction.of("stored_mod", "put_big", List.class), n, args[1]).remote(), 120_000);
      List<ObjectRef<String>> refs = new ArrayList<>();
      for (Object r : raw) {
        @SuppressWarnings("unchecked")
        ObjectRef<String> ref = (ObjectRef<String>) r;
        refs.add(ref);
      }
      System.out.println("READY");
      System.out.flush();
      new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
      List<String> values;
      try {
        values = PolyRay.get(refs, 10_000);
      } catch (RuntimeException e) {
        System.out.println("TIMEOUT " + e);
        return;
      }
      boolean ok = values.size() == n;
      for (int i = 0; ok && i < n; i++) {
        String prefix = "x" + i + ":";
        ok = values.get(i).startsWith(prefix) && values.get(i).length() == prefix.length() + 110_000;
      }
      System.out.println("RESULT n=" + values.size() + " ok=" + (ok ? 1 : 0));
    } finally {
      PolyRay.shutdown();
    }
  }
}

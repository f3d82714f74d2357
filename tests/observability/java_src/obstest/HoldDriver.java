package obstest;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;

/**
 * A Java driver for tests/observability/test_state_objects.py: args: GCS address, bytes. Joins
 * the cluster, puts that many bytes (owned by this driver), prints "ready PID OBJECT_ID_HEX" and
 * holds the ref until its stdin closes.
 */
public final class HoldDriver {
  private HoldDriver() {}

  public static void main(String[] args) throws Exception {
    PolyRay.init(new PolyRayConfig().setAddress(args[0]).setNamespace("objects"));
    ObjectRef<byte[]> ref = PolyRay.put(new byte[Integer.parseInt(args[1])]);
    System.out.println("ready " + ProcessHandle.current().pid() + " " + ref.getIdHex());
    System.out.flush();
    while (System.in.read() >= 0) {
      // held until the test closes stdin
    }
    PolyRay.shutdown();
  }
}

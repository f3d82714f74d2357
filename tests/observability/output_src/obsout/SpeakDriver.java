package obsout;

import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import java.util.Arrays;

/**
 * args: n, code search path...: calls {@link Speak#speak} and returns from main right after get
 * (System.exit, no shutdown call): the JVM's exit (the runtime's shutdown hook) must print the task's lines first.
 */
public final class SpeakDriver {
  private SpeakDriver() {}

  public static void main(String[] args) {
    PolyRay.init(new PolyRayConfig().setCodeSearchPath(Arrays.asList(Arrays.copyOfRange(args, 1, args.length))));
    long n = Long.parseLong(args[0]);
    System.out.println("result " + PolyRay.get(PolyRay.task(Speak::speak, n).remote(), 120_000L));
    System.exit(0);
  }
}

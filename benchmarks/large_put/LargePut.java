// A Java driver's large puts (benchmarks/large_puts.py --java): joins the
// cluster at <address>, puts a byte[] of <bytes> twice (filled first, so the
// source never faults) and prints "puts s1 s2" (seconds per put), then gets
// the first back and checks its length and last byte.
//
//   java -cp <driver dir>:<SDK classpath> LargePut <address> <bytes>
import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import java.util.Arrays;

public final class LargePut {
  private LargePut() {}

  public static void main(String[] args) {
    String address = args[0];
    int n = Integer.parseInt(args[1]);
    byte[] value = new byte[n];
    Arrays.fill(value, (byte) 1);
    PolyRay.init(address);
    int rc = 0;
    try {
      long t0 = System.nanoTime();
      ObjectRef<byte[]> first = PolyRay.put(value);
      long t1 = System.nanoTime();
      ObjectRef<byte[]> second = PolyRay.put(value);
      long t2 = System.nanoTime();
      System.out.println("puts " + (t1 - t0) / 1e9 + " " + (t2 - t1) / 1e9);
      byte[] back = PolyRay.get(first);
      if (back.length != n || back[n - 1] != 1) throw new IllegalStateException("wrong value back");
      PolyRay.get(second);
    } catch (RuntimeException e) {
      System.err.println("LargePut: " + e);
      rc = 1;
    } finally {
      PolyRay.shutdown();
    }
    System.exit(rc);
  }
}

package apitest;

import io.polyray.api.PolyRay;

/** A Java actor that ends itself (PolyRay.exitActor) and answers the built-in methods. */
public class Exiter {
  private long calls;

  public Exiter() {}

  public long pid() { return ProcessHandle.current().pid(); }

  public long slow(long millis) throws InterruptedException {
    Thread.sleep(millis);
    return ++calls;
  }

  public long leave() {
    PolyRay.exitActor();
    return -1;
  }

  public static long notAnActor() {
    PolyRay.exitActor();
    return -1;
  }
}

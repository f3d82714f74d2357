package parity;

import java.util.concurrent.atomic.AtomicInteger;

/** An actor for concurrency groups (tests/api/test_java_parity.py). */
public class Grouped {
  private final AtomicInteger inside = new AtomicInteger();
  private final AtomicInteger most = new AtomicInteger();

  public long block(long ms) throws InterruptedException {
    int now = inside.incrementAndGet();
    most.accumulateAndGet(now, Math::max);
    try {
      Thread.sleep(ms);
    } finally {
      inside.decrementAndGet();
    }
    return ms;
  }

  public long fast() {
    return 1;
  }

  public long most() {
    return most.get();
  }

  /** The hex id of getCurrentActor()'s handle. */
  public String selfId() {
    return io.polyray.api.PolyRay.getRuntimeContext().getCurrentActor().getActorIdHex();
  }
}

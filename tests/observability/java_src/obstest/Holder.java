package obstest;

import io.polyray.api.ObjectRef;
import io.polyray.api.PolyRay;
import java.util.ArrayList;
import java.util.List;

/** An actor that owns the objects it puts and keeps the refs it is given (tests/observability/test_state_objects.py). */
public final class Holder {
  private final List<ObjectRef<?>> kept = new ArrayList<>();

  /** Puts {@code n} bytes (owned by this worker) and keeps the ref; returns this worker's pid. */
  public long put(long n) {
    kept.add(PolyRay.put(new byte[(int) n]));
    return ProcessHandle.current().pid();
  }

  /** Keeps {@code refs} (borrowed from their owner) until this actor dies. */
  public long keep(List<ObjectRef<byte[]>> refs) {
    kept.addAll(refs);
    return kept.size();
  }

  public long pid() {
    return ProcessHandle.current().pid();
  }
}

package chaostest;

import io.polyray.api.ObjectRef;
import java.util.ArrayList;
import java.util.List;

/** An actor that keeps the refs it is given in its state (tests/chaos/test_borrower_death.py). */
public final class Keeper {
  private final List<ObjectRef<byte[]>> kept = new ArrayList<>();

  /** Keeps {@code refs} (borrowed from their owner) until this actor dies; returns how many it keeps. */
  public long keep(List<ObjectRef<byte[]>> refs) {
    kept.addAll(refs);
    return kept.size();
  }

  public long pid() {
    return ProcessHandle.current().pid();
  }
}

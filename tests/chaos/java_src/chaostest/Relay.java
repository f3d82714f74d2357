package chaostest;

import io.polyray.api.ObjectRef;
import java.util.List;

/**
 * A task that hands the refs it is given back inside its return value, lending them to its
 * caller (tests/chaos/test_lender_death.py).
 */
public final class Relay {
  private Relay() {}

  /** Returns {@code refs} as they came: each is lent to the caller until it acknowledges. */
  public static List<ObjectRef<byte[]>> relay(List<ObjectRef<byte[]>> refs) {
    return refs;
  }
}

package parity;

import io.polyray.api.ActorHandle;
import io.polyray.api.ConcurrencyGroup;
import io.polyray.api.PolyRay;

/**
 * An actor whose method declares its concurrency group (@ConcurrencyGroup), and the static
 * functions __polyray_call__ runs with it (tests/api/test_java_parity.py, issues 17 and 19).
 */
public class Declared {
  private long total;

  /** Runs in group "io" by default: the name of the thread it ran on. */
  @ConcurrencyGroup("io")
  public String where() {
    return Thread.currentThread().getName();
  }

  /** Declares no group: the default group's thread. */
  public String plainWhere() {
    return Thread.currentThread().getName();
  }

  public long total() {
    return total;
  }

  /**
   * Run with the actor by __polyray_call__: adds k to its total.
   *
   * @param d the actor
   * @param k how much
   * @return the new total
   */
  public static long bump(Declared d, long k) {
    d.total += k;
    return d.total;
  }

  /**
   * Not a function of Declared (its first parameter is a Grouped).
   *
   * @param g an actor of another class
   * @return 1
   */
  public static long other(Grouped g) {
    return g.fast();
  }

  /**
   * A Java caller (this task): the declared group applies to its calls, a call's group
   * overrides it, handle.call runs bump with the actor, a wrong function is the call's error.
   *
   * @param a a Declared actor created with groups "io" and "other" (by the Python test)
   * @return "where|overridden|total|badCall"
   */
  public static String fromJava(ActorHandle<Declared> a) {
    String where = PolyRay.get(a.task(Declared::where).remote(), 60_000);
    String overridden = PolyRay.get(a.task(Declared::where).setConcurrencyGroup("other").remote(), 60_000);
    long total = PolyRay.get(a.call(Declared::bump, 3L).remote(), 60_000);
    String refused;
    try {
      a.call(Declared::total);
      refused = "accepted";
    } catch (IllegalArgumentException e) {
      refused = e.getMessage().contains("is not a static method") ? "refused" : e.getMessage();
    }
    return where + "|" + overridden + "|" + total + "|" + refused;
  }
}

package xlangtest;

import java.util.ArrayList;
import java.util.List;

/** An actor: state kept across calls, calls in submission order. */
public class Counter {
  private long value;
  private final List<Long> history = new ArrayList<>();

  public Counter(long start) { this.value = start; }

  public long increment(long by) {
    value += by;
    history.add(value);
    return value;
  }

  public List<Long> getHistory() { return history; }

  public long pid() { return ProcessHandle.current().pid(); }

  public long boom() { throw new UnsupportedOperationException("counter exploded"); }
}

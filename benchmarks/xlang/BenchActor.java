package polyraybench;

/** The Java actor of the cross-language benchmark rows: its method is the smallest call. */
public class BenchActor {
  private static final byte[] OK = {'o', 'k'};

  public BenchActor() {}

  /** The actor-call counterpart of the Python rows' small_value. */
  public byte[] smallValue() {
    return OK;
  }
}

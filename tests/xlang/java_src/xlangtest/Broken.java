package xlangtest;

/** A class whose constructor throws, and one without a public constructor. */
public class Broken {
  public Broken() { throw new IllegalStateException("constructor failed"); }

  public static class NoCtor {
    private NoCtor() {}
  }
}

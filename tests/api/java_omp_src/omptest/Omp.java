package omptest;

/** OMP_NUM_THREADS as a Java task and a Java actor see it (tests/api/test_omp_num_threads_xlang.py). */
public class Omp {
  public Omp() {}

  /** The variable, or "" when unset. */
  public static String omp() {
    String v = System.getenv("OMP_NUM_THREADS");
    return v == null ? "" : v;
  }

  /** The actor's view (set at its creation). */
  public String actorOmp() {
    return omp();
  }
}

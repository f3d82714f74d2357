package gputest;

/** CUDA_VISIBLE_DEVICES as a Java task and a Java actor see it (tests/api/test_gpus_xlang.py). */
public class Gpu {
  public Gpu() {}

  /** The variable, or "unset". */
  public static String cuda() {
    String v = System.getenv("CUDA_VISIBLE_DEVICES");
    return v == null ? "unset" : v;
  }

  /** The actor's view (its worker was started with it). */
  public String actorCuda() {
    return cuda();
  }
}

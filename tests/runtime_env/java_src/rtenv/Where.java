package rtenv;

/** A Java callee that exists only in a jar shipped in a job's working_dir (tests/runtime_env/test_nodes.py). */
public final class Where {
  private Where() {}

  /** "java:tag:$RTENV_VAR:cwd". */
  public static String where(String tag) {
    String v = System.getenv("RTENV_VAR");
    return "java:" + tag + ":" + (v == null ? "unset" : v) + ":" + System.getProperty("user.dir");
  }
}

package io.polyray.runtime.core;

/**
 * Where a Java driver or worker finds its job's runtime env (docs/jobs.md, "Runtime
 * environments"): the JSON object the raylet prepares before it starts the job's workers
 * (working_dir, java_jars, cpp_libs, py_modules as gcs:// package URIs or absolute node-local
 * paths; env_vars; pip). The Java SDK does not upload packages: a job submitted with {@code
 * polyray job submit} gets URIs from the job supervisor; a driver started by hand names folders
 * every node has. The raylet validates it; a bad one fails the task with the reason.
 */
public final class RuntimeEnvConfig {
  /** The system property a Java driver may set, e.g. {@code -Dpolyray.job.runtimeEnv={...}}. */
  public static final String PROPERTY = "polyray.job.runtimeEnv";
  /** The variable read when the property is not set. */
  public static final String ENV = "POLYRAY_RUNTIME_ENV_JSON";

  private RuntimeEnvConfig() {}

  /** The property, else the variable, else "" (none); surrounding blanks dropped. */
  public static String fromEnvironment() {
    String value = System.getProperty(PROPERTY);
    if (value == null || value.isBlank()) {
      value = System.getenv(ENV);
    }
    return value == null ? "" : value.strip();
  }
}

package io.polyray.api;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How {@link PolyRay#init(PolyRayConfig)} connects a Java driver.
 *
 * <pre>{@code
 * PolyRay.init(new PolyRayConfig()
 *     .setCodeSearchPath(List.of("/opt/app/classes", "/opt/app/pylib"))
 *     .setNamespace("prod"));
 * }</pre>
 *
 * <ul>
 *   <li>{@code address}: {@code host:port} of a running head's GCS; null (the default):
 *       the system property {@code polyray.address}, else the environment variable
 *       {@code POLYRAY_ADDRESS}, else an embedded local cluster for the life of the driver;
 *       {@code "auto"}: {@code POLYRAY_ADDRESS}, else the cluster {@code polyray start --head}
 *       recorded on this machine, else an error; {@code "local"}: always an embedded one.
 *   <li>{@code codeSearchPath}: directories and jars where workers find the job's code:
 *       Java classes (directories of classes, jars, directories of jars) and Python
 *       modules (each entry is on the Python workers' {@code sys.path}). Null (the
 *       default) means the environment variable {@code POLYRAY_CODE_SEARCH_PATH}
 *       ({@code :}-separated), or, when that is unset too, the driver's own class path
 *       without the polyray SDK, so a driver's classes reach its Java workers with no
 *       configuration.
 *   <li>{@code namespace}: the job's namespace for named actors (default empty).
 *   <li>{@code numCpus}, {@code objectStoreMemory}: sizes of an embedded cluster.
 *   <li>{@code pythonExecutable}: the interpreter that runs an embedded cluster (default:
 *       system property {@code polyray.python}, else environment variable
 *       {@code POLYRAY_PYTHON}, else {@code python3} on the PATH). It must have polyray
 *       installed.
 *   <li>{@code headStartTimeoutMs}: how long an embedded cluster may take to start.
 *   <li>{@code logToDriver}: print the output of the job's workers here (default true).
 *   <li>{@code lineageMaxBytes}: the bound of the lineage (task specs) this driver keeps to
 *       recompute lost objects (default the runtime spec's 256 MiB; 0 keeps none;
 *       {@code POLYRAY_LINEAGE_MAX_BYTES} wins).
 *   <li>{@code jobMetadata}: the job's metadata (Ray's {@code JobConfig.metadata}), kept in the
 *       GCS job table ({@code polyray.util.state.list_jobs(detail=True)} shows it).
 *   <li>{@code defaultActorLifetime}: the lifetime of the job's named actors created without
 *       {@code setLifetime} (Ray's {@code JobConfig.default_actor_lifetime}), in this driver and
 *       in the job's Java and Python workers (null, the default: NON_DETACHED).
 * </ul>
 */
public final class PolyRayConfig {
  private String address;
  private List<String> codeSearchPath;
  private String namespace = "";
  private Double numCpus;
  private Long objectStoreMemory;
  private String pythonExecutable;
  private long headStartTimeoutMs = 60_000;
  private boolean logToDriver = true;
  private long lineageMaxBytes = -1;
  private Map<String, String> jobMetadata = new LinkedHashMap<>();
  private ActorLifetime defaultActorLifetime;

  /** A configuration with every default: an embedded cluster. */
  public PolyRayConfig() {}

  /**
   * The head to connect to.
   *
   * @return {@code host:port}, or null for an embedded cluster
   */
  public String getAddress() {
    return address;
  }

  /**
   * Sets the head to connect to.
   *
   * @param address {@code host:port}, {@code "auto"}, or null for an embedded cluster
   * @return this
   */
  public PolyRayConfig setAddress(String address) {
    this.address = address;
    return this;
  }

  /**
   * The job's code search path.
   *
   * @return the entries, or null for the default
   */
  public List<String> getCodeSearchPath() {
    return codeSearchPath == null ? null : Collections.unmodifiableList(codeSearchPath);
  }

  /**
   * Sets the job's code search path.
   *
   * @param codeSearchPath directories and jars (null: the default)
   * @return this
   */
  public PolyRayConfig setCodeSearchPath(List<String> codeSearchPath) {
    this.codeSearchPath = codeSearchPath == null ? null : new ArrayList<>(codeSearchPath);
    return this;
  }

  /**
   * The job's namespace.
   *
   * @return the namespace, never null
   */
  public String getNamespace() {
    return namespace;
  }

  /**
   * Sets the job's namespace.
   *
   * @param namespace the namespace (null: empty)
   * @return this
   */
  public PolyRayConfig setNamespace(String namespace) {
    this.namespace = namespace == null ? "" : namespace;
    return this;
  }

  /**
   * CPUs of an embedded cluster.
   *
   * @return the count, or null for all of the machine's
   */
  public Double getNumCpus() {
    return numCpus;
  }

  /**
   * Sets the CPUs of an embedded cluster.
   *
   * @param numCpus a non-negative count
   * @return this
   */
  public PolyRayConfig setNumCpus(double numCpus) {
    if (!(numCpus >= 0)) {
      throw new IllegalArgumentException("numCpus must not be negative, got " + numCpus);
    }
    this.numCpus = numCpus;
    return this;
  }

  /**
   * Bytes of an embedded cluster's shared store.
   *
   * @return the size, or null for the default
   */
  public Long getObjectStoreMemory() {
    return objectStoreMemory;
  }

  /**
   * Sets the size of an embedded cluster's shared store.
   *
   * @param bytes a positive size
   * @return this
   */
  public PolyRayConfig setObjectStoreMemory(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("objectStoreMemory must be positive, got " + bytes);
    }
    this.objectStoreMemory = bytes;
    return this;
  }

  /**
   * The Python interpreter of an embedded cluster.
   *
   * @return its path, or null for the default
   */
  public String getPythonExecutable() {
    return pythonExecutable;
  }

  /**
   * Sets the Python interpreter of an embedded cluster.
   *
   * @param pythonExecutable a path or a command name
   * @return this
   */
  public PolyRayConfig setPythonExecutable(String pythonExecutable) {
    this.pythonExecutable = pythonExecutable;
    return this;
  }

  /**
   * How long an embedded cluster may take to start.
   *
   * @return milliseconds
   */
  public long getHeadStartTimeoutMs() {
    return headStartTimeoutMs;
  }

  /**
   * Sets how long an embedded cluster may take to start.
   *
   * @param timeoutMs milliseconds, positive
   * @return this
   */
  public PolyRayConfig setHeadStartTimeoutMs(long timeoutMs) {
    if (timeoutMs <= 0) {
      throw new IllegalArgumentException("headStartTimeoutMs must be positive, got " + timeoutMs);
    }
    this.headStartTimeoutMs = timeoutMs;
    return this;
  }

  /**
   * Whether worker output is printed by the driver.
   *
   * @return the flag
   */
  public boolean isLogToDriver() {
    return logToDriver;
  }

  /**
   * Sets whether worker output is printed by the driver.
   *
   * @param logToDriver the flag
   * @return this
   */
  public PolyRayConfig setLogToDriver(boolean logToDriver) {
    this.logToDriver = logToDriver;
    return this;
  }

  /**
   * The bound of the lineage this driver keeps to recompute lost objects.
   *
   * @return bytes; negative: the runtime spec's default
   */
  public long getLineageMaxBytes() {
    return lineageMaxBytes;
  }

  /**
   * Sets the bound of the lineage this driver keeps ($POLYRAY_LINEAGE_MAX_BYTES wins).
   *
   * @param lineageMaxBytes bytes; 0 keeps none (nothing is recomputed); negative: the default
   * @return this
   */
  public PolyRayConfig setLineageMaxBytes(long lineageMaxBytes) {
    this.lineageMaxBytes = lineageMaxBytes;
    return this;
  }

  /**
   * The job's metadata.
   *
   * @return an unmodifiable view, empty by default
   */
  public Map<String, String> getJobMetadata() {
    return Collections.unmodifiableMap(jobMetadata);
  }

  /**
   * Sets the job's metadata (Ray's {@code JobConfig.metadata}): kept in the GCS job table at job
   * registration, shown by {@code list_jobs(detail=True)}.
   *
   * @param metadata keys and values, none null and no key empty (null: none)
   * @return this
   * @throws IllegalArgumentException for a null or empty key or a null value
   */
  public PolyRayConfig setJobMetadata(Map<String, String> metadata) {
    Map<String, String> copy = new LinkedHashMap<>();
    if (metadata != null) {
      for (Map.Entry<String, String> e : metadata.entrySet()) {
        if (e.getKey() == null || e.getKey().isEmpty()) {
          throw new IllegalArgumentException("jobMetadata keys must be non-empty strings, got " + e.getKey());
        }
        if (e.getValue() == null) {
          throw new IllegalArgumentException("jobMetadata value of '" + e.getKey() + "' is null");
        }
        copy.put(e.getKey(), e.getValue());
      }
    }
    this.jobMetadata = copy;
    return this;
  }

  /**
   * The lifetime of the job's named actors created without one.
   *
   * @return the lifetime, or null when not set (NON_DETACHED)
   */
  public ActorLifetime getDefaultActorLifetime() {
    return defaultActorLifetime;
  }

  /**
   * Sets the lifetime of the job's named actors created without {@code setLifetime} (Ray's
   * {@code JobConfig.default_actor_lifetime}); it applies in this driver and in the job's
   * workers (Java and Python), which read it from the GCS job table. Unnamed actors are never
   * detached.
   *
   * @param lifetime DETACHED or NON_DETACHED
   * @return this
   * @throws IllegalArgumentException when null
   */
  public PolyRayConfig setDefaultActorLifetime(ActorLifetime lifetime) {
    if (lifetime == null) {
      throw new IllegalArgumentException("defaultActorLifetime must be DETACHED or NON_DETACHED, got null");
    }
    this.defaultActorLifetime = lifetime;
    return this;
  }

  @Override
  public String toString() {
    return "PolyRayConfig(address=" + (address == null ? "embedded" : address) + ", codeSearchPath="
        + codeSearchPath + ", namespace='" + namespace + "')";
  }
}

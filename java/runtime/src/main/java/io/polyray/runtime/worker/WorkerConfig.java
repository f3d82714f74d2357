package io.polyray.runtime.worker;

import com.google.protobuf.ByteString;
import io.polyray.runtime.ref.Hex;
import java.util.List;
import java.util.Map;

/**
 * What a worker is told at start: the POLYRAY_* environment the raylet sets (the same
 * variables a Python worker reads; python/polyray/raylet/launchers.py).
 */
public final class WorkerConfig {
  /** {@code host:port} of the node's raylet. */
  public final String rayletAddress;
  /** {@code host:port} of the GCS. */
  public final String gcsAddress;
  /** This node's ID. */
  public final ByteString nodeId;
  /** This worker's ID (assigned by the raylet). */
  public final ByteString workerId;
  /** The job this worker serves. */
  public final ByteString jobId;
  /** Echoed in RegisterWorker so the raylet can match the process it started. */
  public final String startupToken;
  /** The node's shared-memory segment. */
  public final String storeName;
  /** The job's code search path. */
  public final List<String> codeSearchPath;
  /** The address the worker's server binds and advertises. */
  public final String nodeIp;

  /**
   * A configuration.
   *
   * @param rayletAddress {@code host:port} of the raylet
   * @param gcsAddress {@code host:port} of the GCS (may be empty)
   * @param nodeId the node ID
   * @param workerId the worker ID
   * @param jobId the job ID
   * @param startupToken the raylet's token for this process
   * @param storeName the store segment name
   * @param codeSearchPath directories and jars of user code
   * @param nodeIp the address to bind
   */
  public WorkerConfig(String rayletAddress, String gcsAddress, ByteString nodeId, ByteString workerId,
      ByteString jobId, String startupToken, String storeName, List<String> codeSearchPath, String nodeIp) {
    this.rayletAddress = rayletAddress;
    this.gcsAddress = gcsAddress;
    this.nodeId = nodeId;
    this.workerId = workerId;
    this.jobId = jobId;
    this.startupToken = startupToken;
    this.storeName = storeName;
    this.codeSearchPath = List.copyOf(codeSearchPath);
    this.nodeIp = nodeIp;
  }

  /**
   * Reads the POLYRAY_* variables: POLYRAY_RAYLET_ADDRESS, POLYRAY_GCS_ADDRESS,
   * POLYRAY_NODE_ID, POLYRAY_WORKER_ID, POLYRAY_JOB_ID (hex), POLYRAY_STARTUP_TOKEN,
   * POLYRAY_STORE_NAME, POLYRAY_CODE_SEARCH_PATH ({@code :}-separated),
   * POLYRAY_NODE_IP (default 127.0.0.1).
   *
   * @param env the environment
   * @return the configuration
   * @throws IllegalArgumentException naming a missing or malformed variable
   */
  public static WorkerConfig fromEnv(Map<String, String> env) {
    String ip = env.getOrDefault("POLYRAY_NODE_IP", "");
    return new WorkerConfig(
        required(env, "POLYRAY_RAYLET_ADDRESS"),
        env.getOrDefault("POLYRAY_GCS_ADDRESS", ""),
        hex(env, "POLYRAY_NODE_ID"),
        hex(env, "POLYRAY_WORKER_ID"),
        hex(env, "POLYRAY_JOB_ID"),
        env.getOrDefault("POLYRAY_STARTUP_TOKEN", ""),
        required(env, "POLYRAY_STORE_NAME"),
        CodeSearchPath.split(env.get("POLYRAY_CODE_SEARCH_PATH")),
        ip.isEmpty() ? "127.0.0.1" : ip);
  }

  private static String required(Map<String, String> env, String name) {
    String v = env.get(name);
    if (v == null || v.isEmpty()) {
      throw new IllegalArgumentException("missing environment variable " + name + " (workers are started by a raylet)");
    }
    return v;
  }

  private static ByteString hex(Map<String, String> env, String name) {
    String v = required(env, name);
    try {
      return ByteString.copyFrom(Hex.parse(v));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("environment variable " + name + " is not hex: " + v);
    }
  }
}

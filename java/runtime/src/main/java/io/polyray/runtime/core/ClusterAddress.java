package io.polyray.runtime.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermission;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.IntPredicate;
import java.util.function.Supplier;

/**
 * Which cluster a Java driver joins, in the order the Python and C++ drivers use
 * (python/polyray/cluster_record.py):
 *
 * <ul>
 *   <li>the configured address ({@code PolyRayConfig.setAddress}), else the system
 *       property {@code polyray.address};
 *   <li>{@code "host:port"}: that one; {@code "local"}: a new embedded head, always;
 *   <li>{@code "auto"}: {@code $POLYRAY_ADDRESS} if set, else the cluster {@code polyray
 *       start --head} recorded in {@code $TMPDIR/polyray/current_cluster} (its owner
 *       still running), else an {@link IllegalStateException} naming both;
 *   <li>nothing: {@code $POLYRAY_ADDRESS} if set (Ray's rule), else a new embedded head.
 * </ul>
 *
 * <p>The record is {@code key=value} lines ({@code gcs_address}, {@code dashboard_url},
 * {@code session_dir}, {@code pid}); one whose pid is not a running {@code polyray.node}
 * process is ignored and removed; one owned by another user, or writable by group or
 * others, is ignored.
 */
public final class ClusterAddress {
  /** The environment variable naming the GCS a driver joins. */
  public static final String ENV_ADDRESS = "POLYRAY_ADDRESS";
  /** The system property naming the address when the config does not. */
  public static final String PROPERTY_ADDRESS = "polyray.address";

  private ClusterAddress() {}

  /** The record a head wrote, as parsed. */
  public static final class Record {
    /** The GCS address. */
    public final String gcsAddress;
    /** The pid of the node daemon that owns the cluster. */
    public final int pid;
    /** The dashboard's URL, "" when none. */
    public final String dashboardUrl;

    Record(String gcsAddress, int pid, String dashboardUrl) {
      this.gcsAddress = gcsAddress;
      this.pid = pid;
      this.dashboardUrl = dashboardUrl;
    }
  }

  /**
   * The address to join for this process (config, system property, environment, record).
   *
   * @param configured the configured address, or null
   * @return {@code host:port}, or null to start an embedded head
   * @throws IllegalStateException for {@code "auto"} when no cluster is found
   */
  public static String resolve(String configured) {
    return resolve(configured, System.getProperty(PROPERTY_ADDRESS), System.getenv(ENV_ADDRESS),
        () -> readRecord(recordPath(System.getenv("TMPDIR")), ClusterAddress::isNodeProcess),
        recordPath(System.getenv("TMPDIR")));
  }

  /**
   * The rule itself, with its inputs given (unit tests).
   *
   * @param configured the configured address, or null
   * @param property the system property's value, or null
   * @param env the environment variable's value, or null
   * @param record reads the live record, or null when there is none
   * @param recordPath where the record is looked for (for the error's message)
   * @return {@code host:port}, or null to start an embedded head
   */
  public static String resolve(String configured, String property, String env, Supplier<Record> record,
      Path recordPath) {
    String address = configured != null && !configured.isEmpty() ? configured
        : property != null && !property.trim().isEmpty() ? property.trim() : null;
    if ("local".equals(address)) {
      return null;
    }
    if (address != null && !"auto".equals(address)) {
      return address;
    }
    if (env != null && !env.trim().isEmpty()) {
      return env.trim();
    }
    if (address == null) {
      return null;
    }
    Record r = record.get();
    if (r != null) {
      return r.gcsAddress;
    }
    throw new IllegalStateException("init(\"auto\") found no running cluster: $" + ENV_ADDRESS
        + " (or -D" + PROPERTY_ADDRESS + ") is not set and no live cluster is recorded in " + recordPath
        + " (start one with `polyray start --head`, or give host:port)");
  }

  /**
   * Where the record lives: {@code $TMPDIR/polyray/current_cluster} ({@code /tmp} without TMPDIR).
   *
   * @param tmpdir the value of TMPDIR, or null
   * @return the path
   */
  public static Path recordPath(String tmpdir) {
    return Paths.get(tmpdir == null || tmpdir.isEmpty() ? "/tmp" : tmpdir, "polyray", "current_cluster");
  }

  /**
   * The record at {@code path} whose owner runs; null when absent, malformed or stale
   * (removed then).
   *
   * @param path the record's path
   * @param alive whether a pid is a running node daemon
   * @return the record, or null
   */
  public static Record readRecord(Path path, IntPredicate alive) {
    String text;
    try {
      if (!trusted(path)) {
        return null;  // another user's (or a writable) file: never followed, never removed
      }
      text = new String(Files.readAllBytes(path), StandardCharsets.UTF_8);
    } catch (IOException | UnsupportedOperationException e) {
      return null;
    }
    Record r = parse(text);
    if (r != null && alive.test(r.pid)) {
      return r;
    }
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      // another process removed or replaced it: nothing to clean
    }
    return null;
  }

  /**
   * Whether a driver may follow the record: owned by this user and writable by no one
   * else (a record planted by another user would send this driver's token to their GCS).
   *
   * @param path the record's path
   * @return true when trusted
   * @throws IOException when its attributes cannot be read
   */
  static boolean trusted(Path path) throws IOException {
    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(path);
    return Files.getOwner(path).getName().equals(System.getProperty("user.name"))
        && !perms.contains(PosixFilePermission.GROUP_WRITE) && !perms.contains(PosixFilePermission.OTHERS_WRITE);
  }

  /**
   * Parses a record's text.
   *
   * @param text {@code key=value} lines
   * @return the record, or null when it has no address or pid
   */
  public static Record parse(String text) {
    Map<String, String> values = new HashMap<>();
    for (String line : text.split("\n", -1)) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        values.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim());
      }
    }
    String address = values.getOrDefault("gcs_address", "");
    int pid;
    try {
      pid = Integer.parseInt(values.getOrDefault("pid", ""));
    } catch (NumberFormatException e) {
      return null;
    }
    if (!address.contains(":") || pid <= 0) {
      return null;
    }
    return new Record(address, pid, values.getOrDefault("dashboard_url", ""));
  }

  /**
   * Whether {@code pid} runs and is a polyray node daemon (not a dead one's reused pid).
   *
   * @param pid the process id
   * @return true when it is a live {@code polyray.node} process
   */
  public static boolean isNodeProcess(int pid) {
    try {
      byte[] cmdline = Files.readAllBytes(Paths.get("/proc", Integer.toString(pid), "cmdline"));
      String stat = new String(Files.readAllBytes(Paths.get("/proc", Integer.toString(pid), "stat")),
          StandardCharsets.UTF_8);
      String[] fields = stat.substring(stat.lastIndexOf(')') + 1).trim().split(" ");
      if (fields.length > 0 && "Z".equals(fields[0])) {
        return false;
      }
      return new String(cmdline, StandardCharsets.ISO_8859_1).contains("polyray.node");
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }
}

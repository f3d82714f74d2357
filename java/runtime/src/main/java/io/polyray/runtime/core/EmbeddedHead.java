package io.polyray.runtime.core;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A head node (GCS + raylet) run as a child process of a Java driver:
 * {@code <python> -m polyray.node --head --port 0 --address-file F --parent-pid <pid>}
 * (python/polyray/node.py). The child stops by itself when this JVM disappears, so a
 * killed driver leaves no process or shared-memory segment behind; {@link #stop()} sends
 * SIGTERM (the head stops its workers and unlinks the store) and waits.
 */
final class EmbeddedHead {
  private final Process process;
  private final String address;
  private final Path logFile;
  /** The temporary folder removed at stop; null for a head that failed to start (its log is kept). */
  private Path session;

  private EmbeddedHead(Process process, String address, Path logFile, Path session) {
    this.session = session;
    this.process = process;
    this.address = address;
    this.logFile = logFile;
  }

  /** {@code host:port} of its GCS. */
  String address() {
    return address;
  }

  /** Its output (stdout and stderr). */
  Path logFile() {
    return logFile;
  }

  /**
   * The Python interpreter that runs the head: {@code configured}, else system property
   * {@code polyray.python}, else env {@code POLYRAY_PYTHON}, else {@code python3}.
   */
  static String python(String configured) {
    if (configured != null && !configured.isBlank()) {
      return configured;
    }
    String prop = System.getProperty("polyray.python");
    if (prop != null && !prop.isBlank()) {
      return prop;
    }
    String env = System.getenv("POLYRAY_PYTHON");
    if (env != null && !env.isBlank()) {
      return env;
    }
    return "python3";
  }

  /**
   * Starts a head and waits until it serves (its address file appears).
   *
   * @param python the interpreter (polyray must be importable there)
   * @param numCpus CPUs of the node, or null for all
   * @param objectStoreMemory bytes of the store, or null for the default
   * @param timeoutMs how long it may take
   * @return the running head
   * @throws IllegalStateException when it does not start, with the end of its log
   */
  static EmbeddedHead start(String python, Double numCpus, Long objectStoreMemory, long timeoutMs) {
    Path session;
    try {
      session = Files.createTempDirectory("polyray-java-");
    } catch (IOException e) {
      throw new IllegalStateException("cannot create a session directory for the embedded polyray head: " + e, e);
    }
    Path addressFile = session.resolve("gcs_address");
    Path log = session.resolve("head.log");
    List<String> cmd = new ArrayList<>(List.of(python, "-m", "polyray.node", "--head", "--port", "0",
        "--address-file", addressFile.toString(), "--parent-pid", Long.toString(ProcessHandle.current().pid()),
        "--session-dir", session.resolve("logs").toString(),
        // Standby Python workers serve Python drivers only: booting them would slow this driver's
        // init on a small machine; the node prestarts this driver's Java workers instead (issue 19).
        "--no-prestart-standby"));
    if (numCpus != null) {
      cmd.add("--num-cpus");
      cmd.add(Double.toString(numCpus));
    }
    if (objectStoreMemory != null) {
      cmd.add("--object-store-memory");
      cmd.add(Long.toString(objectStoreMemory));
    }
    // The worker pool (issue 19): -Dpolyray.idleWorkerTimeoutS=<s>, -Dpolyray.warmWorkers=<N|java=2,...>.
    String idle = System.getProperty("polyray.idleWorkerTimeoutS");
    if (idle != null && !idle.isBlank()) {
      cmd.add("--idle-worker-timeout-s");
      cmd.add(Double.toString(Double.parseDouble(idle.trim())));
    }
    String warm = System.getProperty("polyray.warmWorkers");
    if (warm != null && !warm.isBlank()) {
      cmd.add("--warm-workers");
      cmd.add(warm.trim());
    }
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Path root = Sdk.repoRoot();
    if (root != null && Files.isDirectory(root.resolve("python").resolve("polyray"))) {
      // A checkout's polyray package is importable even by an interpreter without it installed.
      Map<String, String> env = pb.environment();
      String old = env.getOrDefault("PYTHONPATH", "");
      env.put("PYTHONPATH", root.resolve("python") + (old.isEmpty() ? "" : File.pathSeparator + old));
    }
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start the embedded polyray head with " + python + " (" + e.getMessage()
          + "): set -Dpolyray.python=<python with polyray installed> or POLYRAY_PYTHON", e);
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (System.nanoTime() < deadline) {
      if (Files.isRegularFile(addressFile)) {
        try {
          String addr = Files.readString(addressFile, StandardCharsets.UTF_8).trim();
          if (!addr.isEmpty()) {
            return new EmbeddedHead(p, addr, log, session);
          }
        } catch (IOException e) {
          // written atomically (rename); retry
        }
      }
      if (!p.isAlive()) {
        break;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    EmbeddedHead head = new EmbeddedHead(p, "", log, null);
    head.stop();
    String exit = p.isAlive() ? "still running" : "exit code " + p.exitValue();
    throw new IllegalStateException("the embedded polyray head did not start within " + timeoutMs / 1000 + " s ("
        + exit + "; command: " + String.join(" ", cmd) + "); its log (" + log + "):\n" + tail(log, 3000)
        + "\n(set -Dpolyray.python or POLYRAY_PYTHON to a Python with polyray installed)");
  }

  /** The last {@code max} characters of a file. */
  static String tail(Path file, int max) {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      long n = f.length();
      long from = Math.max(0, n - max);
      byte[] b = new byte[(int) (n - from)];
      f.seek(from);
      f.readFully(b);
      return new String(b, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** SIGTERM, wait up to 15 s, then SIGKILL; then remove the temporary folder. */
  void stop() {
    if (process.isAlive()) {
      process.destroy();
      try {
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        process.destroyForcibly();
      }
    }
    removeSession();
  }

  private void removeSession() {
    Path dir = session;
    session = null;
    if (dir == null) {
      return;
    }
    try (java.util.stream.Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    } catch (IOException e) {
      // best effort: the folder is under the temp dir
    }
  }
}

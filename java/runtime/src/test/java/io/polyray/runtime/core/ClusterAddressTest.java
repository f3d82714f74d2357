package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which cluster a Java driver joins (the order of python/polyray/cluster_record.py), and its record. */
class ClusterAddressTest {
  private static final Path WHERE = Paths.get("/nowhere/polyray/current_cluster");
  private static final ClusterAddress.Record REC = ClusterAddress.parse("gcs_address=10.0.0.5:6380\npid=42\n");
  private static final Supplier<ClusterAddress.Record> NEVER = () -> {
    throw new AssertionError("the record must not be read");
  };

  @Test
  void explicitAddressWinsAndLocalIsEmbedded() {
    assertEquals("1.2.3.4:5", ClusterAddress.resolve("1.2.3.4:5", "7.7.7.7:7", "9.9.9.9:1", NEVER, WHERE));
    assertNull(ClusterAddress.resolve("local", null, "9.9.9.9:1", NEVER, WHERE));
    assertEquals("7.7.7.7:7", ClusterAddress.resolve(null, "7.7.7.7:7", "9.9.9.9:1", NEVER, WHERE));
  }

  @Test
  void plainInitUsesTheEnvironmentElseEmbeddedNeverTheRecord() {
    assertEquals("9.9.9.9:1", ClusterAddress.resolve(null, null, "9.9.9.9:1", NEVER, WHERE));
    assertNull(ClusterAddress.resolve(null, null, null, NEVER, WHERE));
    assertNull(ClusterAddress.resolve("", "  ", " ", NEVER, WHERE));
  }

  @Test
  void autoTakesEnvironmentThenRecordElseSaysBoth() {
    assertEquals("9.9.9.9:1", ClusterAddress.resolve("auto", null, "9.9.9.9:1", NEVER, WHERE));
    assertEquals("10.0.0.5:6380", ClusterAddress.resolve("auto", null, null, () -> REC, WHERE));
    assertEquals("10.0.0.5:6380", ClusterAddress.resolve(null, "auto", null, () -> REC, WHERE));
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> ClusterAddress.resolve("auto", null, null, () -> null, WHERE));
    assertTrue(e.getMessage().contains("POLYRAY_ADDRESS") && e.getMessage().contains(WHERE.toString()),
        e.getMessage());
  }

  @Test
  void liveRecordIsReadStaleOrGarbageIsRemoved(@TempDir Path dir) throws Exception {
    Path path = dir.resolve("current_cluster");
    Files.write(path, "gcs_address=10.0.0.5:6380\ndashboard_url=http://x\nsession_dir=/s\npid=42\n"
        .getBytes(StandardCharsets.UTF_8));
    Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    ClusterAddress.Record r = ClusterAddress.readRecord(path, pid -> pid == 42);
    assertNotNull(r);
    assertEquals("10.0.0.5:6380", r.gcsAddress);
    assertEquals("http://x", r.dashboardUrl);
    assertTrue(Files.exists(path));
    assertNull(ClusterAddress.readRecord(path, pid -> false));
    assertFalse(Files.exists(path), "a dead owner's record is removed");
    Files.write(path, new byte[] {(byte) 0xff, 0, 'p', 'i', 'd', '=', 'x', '\n'});
    Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    assertNull(ClusterAddress.readRecord(path, pid -> true));
    assertFalse(Files.exists(path));
    assertNull(ClusterAddress.readRecord(path, pid -> true), "no record");
  }

  @Test
  void recordWritableByOthersIsNotFollowed(@TempDir Path dir) throws Exception {
    Path path = dir.resolve("current_cluster");
    Files.write(path, "gcs_address=10.0.0.5:6380\npid=42\n".getBytes(StandardCharsets.UTF_8));
    Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw--w--w-"));
    assertNull(ClusterAddress.readRecord(path, pid -> true));
    assertTrue(Files.exists(path), "another's record is left alone");
    Files.setPosixFilePermissions(path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    assertNotNull(ClusterAddress.readRecord(path, pid -> true));
  }

  @Test
  void thisJvmIsNotANodeDaemon() {
    assertFalse(ClusterAddress.isNodeProcess((int) ProcessHandle.current().pid()));
    assertFalse(ClusterAddress.isNodeProcess(Integer.MAX_VALUE));
    assertEquals(Paths.get("/tmp/polyray/current_cluster"), ClusterAddress.recordPath(null));
    assertEquals(Paths.get("/x/polyray/current_cluster"), ClusterAddress.recordPath("/x"));
  }
}

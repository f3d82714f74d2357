package io.polyray.runtime.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class PrefaulterTest extends StoreTestSupport {
  /** Bytes the kernel has allocated to the segment's tmpfs file (stat %b blocks of 512). */
  private long resident() throws IOException, InterruptedException {
    Process p = new ProcessBuilder("stat", "-c", "%b", "/dev/shm" + store.name()).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertEquals(0, p.waitFor());
    return Long.parseLong(out) * 512;
  }

  @Test
  void prefaultMakesItsRangeResidentKeepsBytesAndIsClamped() throws Exception {
    ObjectId id = randomId();
    byte[] data = pattern(3, 4096);
    store.put(id, data);
    long before = resident();
    assertEquals(16L << 20, store.prefault(0, 16L << 20));
    assertTrue(resident() - before >= (16L << 20) - 4096, "16 MiB populated");
    assertEquals(capacity(), store.prefault(0, 1L << 40));
    assertEquals(0, store.prefault(capacity(), 4096));
    assertThrows(StoreException.class, () -> store.prefault(-1, 1));
    try (ObjectView v = store.getOne(id, 0)) {
      assertArrayEquals(data, bytes(v.data()));
    }
  }

  @Test
  void backgroundThreadPopulatesTheLimit() throws Exception {
    long before = resident();
    Prefaulter.startInBackground(() -> store, 24L << 20);
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (resident() - before < (24L << 20) && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertTrue(resident() - before >= 24L << 20, "24 MiB populated within 20 s");
    assertTrue(resident() - before < 32L << 20, "no more than asked");
  }

  @Test
  void parsesSizes() {
    assertEquals(512L << 20, Prefaulter.parseBytes("512M"));
    assertEquals(2L << 30, Prefaulter.parseBytes("2G"));
    assertEquals(4096, Prefaulter.parseBytes("4KiB"));
    assertEquals(0, Prefaulter.parseBytes("off"));
    assertEquals(0, Prefaulter.parseBytes("0"));
    assertEquals(-1, Prefaulter.parseBytes("x"));
    assertEquals(-1, Prefaulter.parseBytes("-1"));
  }
}

package io.polyray.runtime.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** StoreTool in-process (the cross-language pytest runs it as a separate JVM). */
class StoreToolTest extends StoreTestSupport {
  @TempDir Path dir;

  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    err.reset();
    return StoreTool.run(
        args, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  @Test
  void putThenGet() throws Exception {
    for (int size : new int[] {0, 1, 100_000}) {
      ObjectId id = randomId();
      Path in = dir.resolve("in-" + size);
      Files.write(in, pattern(size, size));
      assertEquals(0, run("put", store.name(), id.toHex(), in.toString()), err());
      Path out = dir.resolve("out-" + size);
      assertEquals(0, run("get", store.name(), id.toHex(), out.toString(), "1000"), err());
      assertArrayEquals(pattern(size, size), Files.readAllBytes(out));
    }
    assertEquals(0, store.stats().pinnedObjects());
  }

  @Test
  void errorsExitNonZeroWithAMessage() throws Exception {
    ObjectId id = randomId();
    Path out = dir.resolve("out");
    assertEquals(1, run("get", store.name(), id.toHex(), out.toString()));
    assertTrue(err().contains(id.toHex()), err());

    assertEquals(1, run("get", "/polyray-no-such-segment", id.toHex(), out.toString()));
    assertTrue(err().contains("/polyray-no-such-segment"), err());

    assertEquals(1, run("put", store.name(), "abc", out.toString()));
    assertTrue(err().contains("56 hex digits"), err());

    assertEquals(1, run("put", store.name(), id.toHex(), dir.resolve("missing").toString()));
    assertTrue(err().contains("missing"), err());

    Path in = dir.resolve("in");
    Files.write(in, new byte[] {1, 2});
    assertEquals(0, run("put", store.name(), id.toHex(), in.toString()));
    assertEquals(1, run("put", store.name(), id.toHex(), in.toString()));
    assertTrue(err().contains("exist"), err());

    assertEquals(2, run());
    assertEquals(2, run("frobnicate"));
    assertTrue(err().contains("unknown command 'frobnicate'"), err());
    assertEquals(2, run("get", store.name(), id.toHex(), out.toString(), "soon"));
    assertTrue(err().contains("timeoutMs"), err());
    assertEquals(2, run("put", store.name()));
    assertStoreWorks(store);
  }
}

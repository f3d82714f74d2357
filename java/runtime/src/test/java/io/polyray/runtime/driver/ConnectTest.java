package io.polyray.runtime.driver;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.polyray.api.PolyRay;
import io.polyray.api.PolyRayConfig;
import java.io.IOException;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A driver that cannot connect gets a clear error quickly, and stays uninitialized. */
@Timeout(60)
class ConnectTest {
  @Test
  void nothingListeningFailsWithinSecondsNamingTheAddress() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String address = "127.0.0.1:" + port;
    long t0 = System.nanoTime();
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> PolyRay.init(address));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(ms < 10_000, "took " + ms + " ms");
    assertTrue(e.getMessage().contains(address), e.getMessage());
    assertFalse(PolyRay.isInitialized());
  }

  @Test
  void badAddressesAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> PolyRay.init("no-port"));
    assertFalse(PolyRay.isInitialized());
  }

  @Test
  void anEmbeddedHeadThatCannotStartSaysWhy() {
    IllegalStateException missing = assertThrows(IllegalStateException.class,
        () -> PolyRay.init(new PolyRayConfig().setPythonExecutable("/nonexistent/python3")));
    assertTrue(missing.getMessage().contains("polyray.python"), missing.getMessage());
    // An interpreter that exits at once: the error has its exit code and log.
    IllegalStateException dies = assertThrows(IllegalStateException.class,
        () -> PolyRay.init(new PolyRayConfig().setPythonExecutable("/bin/false").setHeadStartTimeoutMs(20_000)));
    assertTrue(dies.getMessage().contains("exit code 1"), dies.getMessage());
    assertTrue(dies.getMessage().contains("head.log"), dies.getMessage());
    assertFalse(PolyRay.isInitialized());
  }

  @Test
  void theApiNeedsInit() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> PolyRay.put(1));
    assertTrue(e.getMessage().contains("PolyRay.init()"), e.getMessage());
    PolyRay.shutdown(); // harmless when not initialized
  }
}

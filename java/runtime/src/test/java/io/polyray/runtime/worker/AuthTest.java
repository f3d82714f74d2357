package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The token's resolution order and errors, as python/polyray/protocol/auth.py resolves it
 * (tests/protocol/test_protocol_auth.py has the same cases): env, token path, default file.
 */
class AuthTest {
  @TempDir Path home;

  private Path write(String name, String text) throws Exception {
    Path p = home.resolve(name);
    Files.createDirectories(p.getParent());
    Files.write(p, text.getBytes(StandardCharsets.UTF_8));
    return p;
  }

  @Test
  void envComesFirstThenThePathThenTheDefaultFile() throws Exception {
    Path f = write("t", " from-file \n");
    write(".polyray/auth_token", "from-default\n");
    assertEquals("from-env", Auth.resolve(Map.of("POLYRAY_AUTH_TOKEN", "from-env",
        "POLYRAY_AUTH_TOKEN_PATH", f.toString()), home.toString()));
    assertEquals("from-file", Auth.resolve(Map.of("POLYRAY_AUTH_TOKEN_PATH", f.toString()), home.toString()));
    assertEquals("from-default", Auth.resolve(Map.of(), home.toString()));
  }

  @Test
  void anEmptyOrMissingFileIsAnErrorNamingIt() throws Exception {
    Path empty = write("empty", "\n");
    Auth.AuthException e = assertThrows(Auth.AuthException.class,
        () -> Auth.resolve(Map.of("POLYRAY_AUTH_TOKEN_PATH", empty.toString()), home.toString()));
    assertEquals("the polyray auth token file " + empty + " is empty", e.getMessage());
    Path nope = home.resolve("nope");
    e = assertThrows(Auth.AuthException.class,
        () -> Auth.resolve(Map.of("POLYRAY_AUTH_TOKEN_PATH", nope.toString()), home.toString()));
    assertEquals("cannot read the polyray auth token file " + nope + ": No such file or directory", e.getMessage());
  }

  @Test
  void noTokenAnywhereIsAnErrorSayingWhatToDo() {
    Auth.AuthException e = assertThrows(Auth.AuthException.class, () -> Auth.resolve(Map.of(), home.toString()));
    assertTrue(e.getMessage().startsWith("no polyray auth token: set POLYRAY_AUTH_TOKEN"), e.getMessage());
  }

  @Test
  void disabledNeedsNoTokenAndABadModeIsAnError() {
    assertNull(Auth.resolve(Map.of("POLYRAY_AUTH_MODE", "DISABLED"), home.toString()));
    Auth.AuthException e = assertThrows(Auth.AuthException.class,
        () -> Auth.resolve(Map.of("POLYRAY_AUTH_MODE", "off"), home.toString()));
    assertEquals("POLYRAY_AUTH_MODE='off': expected 'token' or 'disabled'", e.getMessage());
  }

  @Test
  void theHelloCarriesThisProcesssToken() {
    // Surefire sets POLYRAY_AUTH_TOKEN for the tests (java/pom.xml).
    byte[] frame = Auth.helloFrame();
    int n = (frame[0] & 0xff) | (frame[1] & 0xff) << 8 | (frame[2] & 0xff) << 16 | (frame[3] & 0xff) << 24;
    byte[] body = java.util.Arrays.copyOfRange(frame, 4, 4 + n);
    assertTrue(Auth.helloOk(body));
    assertFalse(Auth.helloOk(new byte[] {(byte) 0xff}));
    assertFalse(Auth.helloOk(new byte[0]));
  }
}

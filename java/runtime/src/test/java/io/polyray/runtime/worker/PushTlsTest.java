package io.polyray.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The push port's TLS ({@link PushTls}) over real loopback sockets with real certificates: a
 * throwaway CA and node certificate made with the openssl command as {@code polyray tls generate}
 * makes them (PKCS#8 key), and a second CA with its own node certificate. The worker's end is
 * {@link PushTls#server}, the caller's {@link PushTls#client}, as PushPort and PushPortClient use
 * them under POLYRAY_USE_TLS.
 */
class PushTlsTest {
  private static Path dir;
  private static SSLContext good;
  private static ServerSocket listener;

  @BeforeAll
  static void setUp() throws Exception {
    dir = Files.createTempDirectory("polyray-push-tls-java-");
    generate("good");
    generate("other");
    good = PushTls.build(dir.resolve("good/ca.crt"), dir.resolve("good/node.crt"), dir.resolve("good/node.key"));
    listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
  }

  @AfterAll
  static void tearDown() throws Exception {
    listener.close();
    run("rm -rf " + dir);
  }

  private static void run(String cmd) throws Exception {
    Process p = new ProcessBuilder("sh", "-c", cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), cmd);
    assertEquals(0, p.exitValue(), cmd + "\n" + out);
  }

  /** ca.crt, node.crt, node.key (PKCS#8) and node-pkcs1.key under {@code sub}; SAN 127.0.0.1. */
  private static void generate(String sub) throws Exception {
    Path d = dir.resolve(sub);
    Files.createDirectories(d);
    run("cd " + d + " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
        + "extendedKeyUsage=serverAuth,clientAuth\\n' > ext.cnf"
        + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj '/CN=test CA "
        + sub + "'"
        + " && openssl req -newkey rsa:2048 -nodes -keyout node.key -out node.csr -subj '/CN=node'"
        + " && openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out node.crt -days 2"
        + " -extfile ext.cnf"
        + " && openssl rsa -in node.key -traditional -out node-pkcs1.key");
  }

  /**
   * The worker's end of one connection, on another thread: handshake, then echo what it reads
   * until the caller's end. Completes with null, or the exception that ended it.
   */
  private static CompletableFuture<Exception> serveOne() {
    return CompletableFuture.supplyAsync(() -> {
      try (Socket plain = listener.accept(); SSLSocket ssl = PushTls.server(good, plain)) {
        ssl.setSoTimeout(10_000);
        ssl.startHandshake();
        InputStream in = ssl.getInputStream();
        byte[] buf = new byte[64];
        for (int k; (k = in.read(buf)) > 0; ) {
          ssl.getOutputStream().write(buf, 0, k);
          ssl.getOutputStream().flush();
        }
        return null;
      } catch (IOException | RuntimeException e) {
        return e;
      }
    });
  }

  private static Socket dial() throws IOException {
    Socket s = new Socket(InetAddress.getLoopbackAddress(), listener.getLocalPort());
    s.setSoTimeout(10_000);
    return s;
  }

  @Test
  void bothEndsCarryBytesAndABareTcpEndReadsAsTheEnd() throws Exception {
    CompletableFuture<Exception> server = serveOne();
    try (Socket plain = dial(); SSLSocket c = PushTls.client(good, plain, "127.0.0.1", listener.getLocalPort())) {
      c.startHandshake();
      byte[] hello = "hello worker".getBytes(StandardCharsets.US_ASCII);
      c.getOutputStream().write(hello);
      c.getOutputStream().flush();
      byte[] got = c.getInputStream().readNBytes(hello.length);
      assertArrayEquals(hello, got);
      plain.shutdownOutput(); // the caller's half-close: a bare TCP end, no close_notify
      // The worker read it as the end (no exception) and closed its side.
      assertNull(server.get(20, TimeUnit.SECONDS));
    }
  }

  @Test
  void aCallerWithoutACertificateIsRefused() throws Exception {
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    try (InputStream in = Files.newInputStream(dir.resolve("good/ca.crt"))) {
      Certificate ca = CertificateFactory.getInstance("X.509").generateCertificate(in);
      trust.setCertificateEntry("ca", ca);
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext noCert = SSLContext.getInstance("TLS");
    noCert.init(null, tmf.getTrustManagers(), null);
    assertRefused(noCert, "127.0.0.1");
  }

  @Test
  void aCertificateFromAnotherCaIsRefused() throws Exception {
    SSLContext foreign = PushTls.build(dir.resolve("good/ca.crt"), dir.resolve("other/node.crt"),
        dir.resolve("other/node.key"));
    assertRefused(foreign, "127.0.0.1");
  }

  @Test
  void theCallerChecksTheWorkerCertificateNamesTheHostDialled() throws Exception {
    CompletableFuture<Exception> server = serveOne();
    try (Socket plain = dial(); SSLSocket c = PushTls.client(good, plain, "10.9.8.7", listener.getLocalPort())) {
      IOException e = assertThrows(IOException.class, c::startHandshake);
      assertTrue(String.valueOf(e).contains("10.9.8.7") || String.valueOf(e).contains("certificate"), e::toString);
    }
    assertNotNull(server.get(20, TimeUnit.SECONDS)); // the worker saw the handshake fail
  }

  @Test
  void plaintextIsRefusedAtTheHandshake() throws Exception {
    CompletableFuture<Exception> server = serveOne();
    try (Socket plain = dial()) {
      plain.getOutputStream().write(new byte[] {5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'});
      plain.getOutputStream().flush();
      assertNotNull(server.get(20, TimeUnit.SECONDS));
    }
  }

  @Test
  void aPkcs1KeyIsRefusedWithTheConversionToRun() {
    Auth.AuthException e = assertThrows(Auth.AuthException.class, () -> PushTls.build(dir.resolve("good/ca.crt"),
        dir.resolve("good/node.crt"), dir.resolve("good/node-pkcs1.key")));
    assertTrue(e.getMessage().contains("PKCS#8") && e.getMessage().contains("openssl pkcs8"), e.getMessage());
  }

  /** A caller with {@code ctx}: the worker's handshake fails, and the caller is never served. */
  private static void assertRefused(SSLContext ctx, String host) throws Exception {
    CompletableFuture<Exception> server = serveOne();
    try (Socket plain = dial(); SSLSocket c = PushTls.client(ctx, plain, host, listener.getLocalPort())) {
      // TLS 1.3: the worker judges the caller's certificate after the caller's handshake is done,
      // so the caller learns it at its first read.
      IOException e = assertThrows(IOException.class, () -> {
        c.startHandshake();
        c.getOutputStream().write(1);
        c.getOutputStream().flush();
        if (c.getInputStream().read() < 0) {
          throw new IOException("closed");
        }
      });
      assertNotNull(e);
    }
    Exception refused = server.get(20, TimeUnit.SECONDS);
    assertNotNull(refused, "the worker served a caller it should refuse");
  }
}

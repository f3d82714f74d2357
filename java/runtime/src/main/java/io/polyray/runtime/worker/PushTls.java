package io.polyray.runtime.worker;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * Mutual TLS for the push port (docs/security.md, "TLS"), as python/polyray/protocol/auth.py
 * {@code push_ssl_context} and cpp/src/core/push_tls.h: under {@code POLYRAY_USE_TLS=1} the
 * worker's push port and every caller's connection to one present this node's
 * {@code POLYRAY_TLS_SERVER_CERT} / {@code POLYRAY_TLS_SERVER_KEY} (PEM; the key PKCS#8, as
 * {@code polyray tls generate} writes it) and accept only a peer whose certificate
 * {@code POLYRAY_TLS_CA_CERT} signed; a caller also checks that the worker's certificate names
 * the host it dialled, as gRPC does. The JDK's own TLS (javax.net.ssl); TLS 1.2 at least.
 */
public final class PushTls {
  private static volatile SSLContext context;

  private PushTls() {}

  /**
   * Whether push connections speak TLS (POLYRAY_USE_TLS).
   *
   * @return true under TLS
   */
  public static boolean enabled() {
    return Auth.tlsEnabled();
  }

  /**
   * This process's TLS context for the push port, built once.
   *
   * @return the context
   * @throws Auth.AuthException naming the variable and file when one is unset or unusable
   */
  public static SSLContext context() {
    SSLContext c = context;
    if (c != null) {
      return c;
    }
    synchronized (PushTls.class) {
      if (context == null) {
        context = build();
      }
      return context;
    }
  }

  private static Path file(String var) {
    String path = System.getenv().getOrDefault(var, "").trim();
    if (path.isEmpty()) {
      throw new Auth.AuthException("POLYRAY_USE_TLS is set but " + var + " is not (polyray tls generate DIR makes a set)");
    }
    Path p = Paths.get(path);
    if (!Files.isReadable(p)) {
      throw new Auth.AuthException("cannot read " + var + " " + path);
    }
    return p;
  }

  private static SSLContext build() {
    return build(file("POLYRAY_TLS_CA_CERT"), file("POLYRAY_TLS_SERVER_CERT"), file("POLYRAY_TLS_SERVER_KEY"));
  }

  /** A context from these files (what {@link #context} builds from the variables). */
  static SSLContext build(Path ca, Path cert, Path key) {
    try {
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
      trust.load(null, null);
      int i = 0;
      for (Certificate c : certificates(cf, ca)) {
        trust.setCertificateEntry("ca" + i++, c);
      }
      Collection<? extends Certificate> chain = certificates(cf, cert);
      if (chain.isEmpty()) {
        throw new Auth.AuthException("POLYRAY_TLS_SERVER_CERT " + cert + " holds no certificate");
      }
      char[] pass = "polyray-in-memory".toCharArray(); // the key store never leaves memory
      KeyStore own = KeyStore.getInstance(KeyStore.getDefaultType());
      own.load(null, null);
      own.setKeyEntry("node", privateKey(key), pass, chain.toArray(new Certificate[0]));
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(own, pass);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext c = SSLContext.getInstance("TLS");
      c.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return c;
    } catch (IOException | GeneralSecurityException e) {
      throw new Auth.AuthException("cannot set up TLS for the push port from POLYRAY_TLS_SERVER_CERT " + cert
          + ", POLYRAY_TLS_SERVER_KEY " + key + ", POLYRAY_TLS_CA_CERT " + ca + ": " + e);
    }
  }

  private static Collection<? extends Certificate> certificates(CertificateFactory cf, Path p)
      throws IOException, GeneralSecurityException {
    return cf.generateCertificates(new ByteArrayInputStream(Files.readAllBytes(p)));
  }

  /** A PKCS#8 PEM key ("BEGIN PRIVATE KEY"), RSA or EC. */
  private static PrivateKey privateKey(Path p) throws IOException, GeneralSecurityException {
    String pem = new String(Files.readAllBytes(p), StandardCharsets.US_ASCII);
    String begin = "-----BEGIN PRIVATE KEY-----";
    int b = pem.indexOf(begin);
    int e = pem.indexOf("-----END PRIVATE KEY-----");
    if (b < 0 || e < b) {
      throw new GeneralSecurityException("POLYRAY_TLS_SERVER_KEY " + p + " is not a PKCS#8 PEM key (BEGIN PRIVATE KEY);"
          + " convert it with: openssl pkcs8 -topk8 -nocrypt -in OLD -out NEW");
    }
    byte[] der = Base64.getMimeDecoder().decode(pem.substring(b + begin.length(), e));
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(der);
    List<String> tried = new ArrayList<>();
    for (String alg : new String[] {"RSA", "EC", "Ed25519"}) {
      try {
        return KeyFactory.getInstance(alg).generatePrivate(spec);
      } catch (GeneralSecurityException ex) {
        tried.add(alg.toLowerCase(Locale.ROOT));
      }
    }
    throw new GeneralSecurityException("POLYRAY_TLS_SERVER_KEY " + p + " is no " + String.join(", ", tried) + " key");
  }

  /**
   * The worker's end of an accepted connection: TLS with a client certificate required. The
   * handshake runs on the first read or {@link SSLSocket#startHandshake}.
   *
   * @param s the accepted socket (closed with the returned one)
   * @return the TLS socket over it
   * @throws IOException when it cannot be made
   */
  public static SSLSocket server(Socket s) throws IOException {
    return server(context(), s);
  }

  static SSLSocket server(SSLContext context, Socket s) throws IOException {
    SSLSocket ssl = (SSLSocket) context.getSocketFactory()
        .createSocket(s, s.getInetAddress().getHostAddress(), s.getPort(), true);
    ssl.setUseClientMode(false);
    ssl.setNeedClientAuth(true);
    return ssl;
  }

  /**
   * The caller's end of a connected socket: TLS that checks the worker's certificate names
   * {@code host}.
   *
   * @param s the connected socket (closed with the returned one)
   * @param host the host dialled
   * @param port the port dialled
   * @return the TLS socket over it
   * @throws IOException when it cannot be made
   */
  public static SSLSocket client(Socket s, String host, int port) throws IOException {
    return client(context(), s, host, port);
  }

  static SSLSocket client(SSLContext context, Socket s, String host, int port) throws IOException {
    SSLSocket ssl = (SSLSocket) context.getSocketFactory().createSocket(s, host, port, true);
    ssl.setUseClientMode(true);
    SSLParameters params = ssl.getSSLParameters();
    params.setEndpointIdentificationAlgorithm("HTTPS");
    ssl.setSSLParameters(params);
    return ssl;
  }
}

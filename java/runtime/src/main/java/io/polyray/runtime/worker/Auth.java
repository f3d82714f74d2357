package io.polyray.runtime.worker;

import io.grpc.ClientInterceptor;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import io.polyray.runtime.proto.PushHello;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.Locale;
import java.util.Map;

/**
 * The cluster token (docs/security.md), as python/polyray/protocol/auth.py resolves it:
 * {@code POLYRAY_AUTH_MODE} ({@code token}, the default, or {@code disabled}); the token
 * from {@code POLYRAY_AUTH_TOKEN}, else the file {@code POLYRAY_AUTH_TOKEN_PATH} names (an
 * unreadable or empty file is an error naming it), else {@code ~/.polyray/auth_token}.
 * Every channel the runtime builds sends it as {@code authorization: Bearer <token>}
 * ({@link #clientInterceptor}); every server checks it ({@link #serverInterceptor}); push
 * connections start with a {@code PushHello} frame carrying it.
 */
public final class Auth {
  /** The gRPC metadata key. */
  public static final Metadata.Key<String> KEY =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private static volatile String cached;
  private static volatile boolean resolved;

  /**
   * What this process's auth did (benchmarks/auth_parts.py counts them per operation), as auth.py's
   * COUNTS: calls served through the check, calls made with the token, hellos sent and checked.
   * Always on; with POLYRAY_AUTH_COUNT_DIR set (read once) a daemon thread writes them to
   * {@code <dir>/java-<pid>.json} every 100 ms.
   */
  static final java.util.concurrent.atomic.AtomicLong SERVED = new java.util.concurrent.atomic.AtomicLong();
  static final java.util.concurrent.atomic.AtomicLong MADE = new java.util.concurrent.atomic.AtomicLong();
  static final java.util.concurrent.atomic.AtomicLong HELLO_SENT = new java.util.concurrent.atomic.AtomicLong();
  static final java.util.concurrent.atomic.AtomicLong HELLO_CHECKED = new java.util.concurrent.atomic.AtomicLong();

  static {
    String dir = System.getenv("POLYRAY_AUTH_COUNT_DIR");
    if (dir != null && !dir.isEmpty()) {
      Path path = Paths.get(dir, "java-" + ProcessHandle.current().pid() + ".json");
      Path tmp = Paths.get(path + ".tmp");
      Thread t = new Thread(() -> {
        while (true) {
          try {
            Files.write(tmp, String.format("{\"served\": %d, \"made\": %d, \"hello_sent\": %d, \"hello_checked\": %d}",
                SERVED.get(), MADE.get(), HELLO_SENT.get(), HELLO_CHECKED.get()).getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, path, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            Thread.sleep(100);
          } catch (IOException e) {
            // the folder went away: keep counting, stop nothing
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "auth-counts");
      t.setDaemon(true);
      t.start();
    }
  }

  private Auth() {}

  /** The token cannot be found or read; the message says where and why. */
  public static final class AuthException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    AuthException(String message) {
      super(message);
    }
  }

  /**
   * Whether authentication is on, from POLYRAY_AUTH_MODE.
   *
   * @param env the environment
   * @return true for {@code token} (the default)
   */
  static boolean enabled(Map<String, String> env) {
    String raw = env.getOrDefault("POLYRAY_AUTH_MODE", "");
    String mode = raw.trim().toLowerCase(Locale.ROOT);
    if (mode.isEmpty() || mode.equals("token")) {
      return true;
    }
    if (mode.equals("disabled")) {
      return false;
    }
    throw new AuthException("POLYRAY_AUTH_MODE='" + raw + "': expected 'token' or 'disabled'");
  }

  /**
   * The token of a file, trimmed.
   *
   * @param path the file
   * @return its token
   * @throws AuthException when it cannot be read or is empty
   */
  static String readTokenFile(Path path) {
    String token;
    try {
      token = new String(Files.readAllBytes(path), StandardCharsets.UTF_8).trim();
    } catch (NoSuchFileException e) {
      throw new AuthException("cannot read the polyray auth token file " + path + ": No such file or directory");
    } catch (AccessDeniedException e) {
      throw new AuthException("cannot read the polyray auth token file " + path + ": Permission denied");
    } catch (IOException e) {
      throw new AuthException("cannot read the polyray auth token file " + path + ": " + e.getMessage());
    }
    if (token.isEmpty()) {
      throw new AuthException("the polyray auth token file " + path + " is empty");
    }
    return token;
  }

  /**
   * Resolves the token from {@code env} (null when disabled).
   *
   * @param env the environment
   * @param home the user's home folder
   * @return the token, or null when authentication is disabled
   */
  static String resolve(Map<String, String> env, String home) {
    if (!enabled(env)) {
      return null;
    }
    String token = env.getOrDefault("POLYRAY_AUTH_TOKEN", "").trim();
    if (!token.isEmpty()) {
      return token;
    }
    String path = env.getOrDefault("POLYRAY_AUTH_TOKEN_PATH", "").trim();
    if (!path.isEmpty()) {
      return readTokenFile(Paths.get(path));
    }
    Path def = Paths.get(home, ".polyray", "auth_token");
    if (!Files.exists(def)) {
      throw new AuthException("no polyray auth token: set POLYRAY_AUTH_TOKEN or POLYRAY_AUTH_TOKEN_PATH, or start a "
          + "head on this machine (it writes " + def + "); POLYRAY_AUTH_MODE=disabled turns authentication off");
    }
    return readTokenFile(def);
  }

  /**
   * This process's token (resolved once, on first use), or null when disabled.
   *
   * @return the token or null
   */
  public static String token() {
    if (!resolved) {
      synchronized (Auth.class) {
        if (!resolved) {
          // $HOME first, as Python's Path.home() and the C++ resolver read it.
          String home = System.getenv("HOME");
          cached = resolve(System.getenv(), home != null && !home.isEmpty() ? home : System.getProperty("user.home"));
          if (cached == null) {
            System.err.println("polyray: POLYRAY_AUTH_MODE=disabled: every polyray port accepts anyone who can reach it");
          }
          resolved = true;
        }
      }
    }
    return cached;
  }

  /**
   * Adds the token to every call of a channel (a no-op when disabled).
   *
   * @return the interceptor
   */
  public static ClientInterceptor clientInterceptor() {
    Metadata md = new Metadata();
    String t = token();
    if (t != null) {
      md.put(KEY, "Bearer " + t);
    }
    ClientInterceptor attach = MetadataUtils.newAttachHeadersInterceptor(md);
    return new ClientInterceptor() {
      @Override
      public <Q, R> io.grpc.ClientCall<Q, R> interceptCall(io.grpc.MethodDescriptor<Q, R> method,
          io.grpc.CallOptions options, io.grpc.Channel next) {
        MADE.incrementAndGet();
        return attach.interceptCall(method, options, next);
      }
    };
  }

  /**
   * Refuses every call without the token (UNAUTHENTICATED), before its handler runs.
   *
   * @return the interceptor
   */
  public static ServerInterceptor serverInterceptor() {
    String t = token();
    byte[] expected = t == null ? null : ("Bearer " + t).getBytes(StandardCharsets.UTF_8);
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        SERVED.incrementAndGet();
        if (expected == null) {
          return next.startCall(call, headers);
        }
        String presented = headers.get(KEY);
        if (presented != null && MessageDigest.isEqual(presented.getBytes(StandardCharsets.UTF_8), expected)) {
          return next.startCall(call, headers);
        }
        String why = presented == null ? "no auth token" : "wrong auth token";
        System.err.println("polyray: refused " + call.getMethodDescriptor().getFullMethodName() + " from "
            + call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR) + ": " + why);
        call.close(Status.UNAUTHENTICATED.withDescription("polyray: " + why + " (see docs/security.md)"),
            new Metadata());
        return new ServerCall.Listener<Q>() {};
      }
    };
  }

  /**
   * Whether POLYRAY_USE_TLS asks for (mutual) TLS: {@code 1}, {@code true}, {@code yes}, {@code on}.
   *
   * @return true for TLS
   */
  public static boolean tlsEnabled() {
    String v = System.getenv().getOrDefault("POLYRAY_USE_TLS", "").trim().toLowerCase(Locale.ROOT);
    return v.equals("1") || v.equals("true") || v.equals("yes") || v.equals("on");
  }

  private static java.io.File tlsFile(String var) {
    String path = System.getenv().getOrDefault(var, "").trim();
    if (path.isEmpty()) {
      throw new AuthException("POLYRAY_USE_TLS is set but " + var + " is not (polyray tls generate DIR makes a set)");
    }
    java.io.File f = new java.io.File(path);
    if (!f.canRead()) {
      throw new AuthException("cannot read " + var + " " + path);
    }
    return f;
  }

  /**
   * The channel's transport: mutual TLS with the cluster's CA and this node's certificate when
   * POLYRAY_USE_TLS is set, else plaintext.
   *
   * @param b the builder
   * @return the same builder
   */
  public static io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder transport(
      io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder b) {
    if (!tlsEnabled()) {
      return b.usePlaintext();
    }
    try {
      return b.sslContext(io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts.forClient()
          .trustManager(tlsFile("POLYRAY_TLS_CA_CERT"))
          .keyManager(tlsFile("POLYRAY_TLS_SERVER_CERT"), tlsFile("POLYRAY_TLS_SERVER_KEY")).build());
    } catch (javax.net.ssl.SSLException e) {
      throw new AuthException("cannot set up TLS: " + e.getMessage());
    }
  }

  /**
   * The server's transport: mutual TLS (clients must present a certificate the CA signed)
   * when POLYRAY_USE_TLS is set, else plaintext.
   *
   * @param b the builder
   * @return the same builder
   */
  public static io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder transport(
      io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder b) {
    if (!tlsEnabled()) {
      return b;
    }
    try {
      return b.sslContext(io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts
          .forServer(tlsFile("POLYRAY_TLS_SERVER_CERT"), tlsFile("POLYRAY_TLS_SERVER_KEY"))
          .trustManager(tlsFile("POLYRAY_TLS_CA_CERT"))
          .clientAuth(io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth.REQUIRE).build());
    } catch (javax.net.ssl.SSLException e) {
      throw new AuthException("cannot set up TLS: " + e.getMessage());
    }
  }

  /**
   * The first frame of a push connection: length (4 bytes, little-endian) and a PushHello.
   *
   * @return the frame
   */
  public static byte[] helloFrame() {
    HELLO_SENT.incrementAndGet();
    String t = token();
    byte[] body = PushHello.newBuilder()
        .setAuthToken(ByteString.copyFromUtf8(t == null ? "" : t)).build().toByteArray();
    byte[] frame = new byte[4 + body.length];
    int n = body.length;
    frame[0] = (byte) n;
    frame[1] = (byte) (n >>> 8);
    frame[2] = (byte) (n >>> 16);
    frame[3] = (byte) (n >>> 24);
    System.arraycopy(body, 0, frame, 4, n);
    return frame;
  }

  /**
   * Whether a push connection's first frame carries this process's token (always when disabled).
   *
   * @param body the frame's bytes
   * @return true to serve the connection
   */
  public static boolean helloOk(byte[] body) {
    HELLO_CHECKED.incrementAndGet();
    String t = token();
    if (t == null) {
      return true;
    }
    try {
      byte[] got = PushHello.parseFrom(body).getAuthToken().toByteArray();
      return got.length > 0 && MessageDigest.isEqual(got, t.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      return false;
    }
  }
}

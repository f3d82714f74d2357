// What Java's auth adds per gRPC call and per push connection, timed in process (issue 15).
//
//   POLYRAY_AUTH_TOKEN=$(printf 'ab%.0s' {1..32}) java -cp "$CP" benchmarks/auth_parts/AuthCheckBench.java
//
// CP is polyray.sdk.java_classpath() joined by ':'. Tight loops after a JIT warm-up; per repeat the
// ns per operation; printed: min and median of the repeats. Parts: the server interceptor
// (Auth.serverInterceptor) on a call with the token vs a pass-through interceptor; the client
// interceptor (Auth.clientInterceptor: interceptCall + start, which merges the header) vs the
// bare call; one PushHello made (Auth.helloFrame) and checked (Auth.helloOk). docs/security.md,
// "Cost by parts", has the figures.

import io.grpc.Attributes;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.polyray.runtime.worker.Auth;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.Arrays;

public class AuthCheckBench {
  static final MethodDescriptor.Marshaller<byte[]> RAW = new MethodDescriptor.Marshaller<byte[]>() {
    public InputStream stream(byte[] v) { return new ByteArrayInputStream(v); }
    public byte[] parse(InputStream in) { return new byte[0]; }
  };
  static final MethodDescriptor<byte[], byte[]> METHOD = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("polyray.CoreWorkerService/PushTask")
      .setRequestMarshaller(RAW).setResponseMarshaller(RAW).build();

  static final class FakeServerCall extends ServerCall<byte[], byte[]> {
    public void request(int n) {}
    public void sendHeaders(Metadata h) {}
    public void sendMessage(byte[] m) {}
    public void close(Status s, Metadata t) { throw new AssertionError("refused: " + s); }
    public boolean isCancelled() { return false; }
    public MethodDescriptor<byte[], byte[]> getMethodDescriptor() { return METHOD; }
    public Attributes getAttributes() { return Attributes.EMPTY; }
  }

  static final class FakeClientCall extends ClientCall<byte[], byte[]> {
    Metadata last;
    public void start(Listener<byte[]> l, Metadata h) { last = h; }
    public void request(int n) {}
    public void cancel(String m, Throwable t) {}
    public void halfClose() {}
    public void sendMessage(byte[] m) {}
  }

  static long sink;

  interface Op { void run(); }

  static double[] time(Op op, int n, int repeats) {
    double[] r = new double[repeats];
    for (int w = 0; w < 3; w++) for (int i = 0; i < n; i++) op.run();
    for (int k = 0; k < repeats; k++) {
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) op.run();
      r[k] = (System.nanoTime() - t0) / (double) n;
    }
    Arrays.sort(r);
    return r;
  }

  static void print(String name, double[] r) {
    System.out.printf("%-22s min %8.1f ns  median %8.1f ns%n", name, r[0], r[r.length / 2]);
  }

  public static void main(String[] args) {
    int n = 200_000;
    int repeats = args.length > 0 ? Integer.parseInt(args[0]) : 15;
    String token = System.getenv("POLYRAY_AUTH_TOKEN");
    ServerInterceptor check = Auth.serverInterceptor();
    ServerInterceptor pass = new ServerInterceptor() {
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> c, Metadata h, ServerCallHandler<Q, R> next) {
        return next.startCall(c, h);
      }
    };
    ServerCall.Listener<byte[]> listener = new ServerCall.Listener<byte[]>() {};
    ServerCallHandler<byte[], byte[]> handler = (c, h) -> listener;
    FakeServerCall call = new FakeServerCall();
    Metadata headers = new Metadata();
    headers.put(Metadata.Key.of("user-agent", Metadata.ASCII_STRING_MARSHALLER), "grpc-java-netty/1.70.0");
    headers.put(Auth.KEY, "Bearer " + token);
    double[] sWith = time(() -> sink += check.interceptCall(call, headers, handler).hashCode(), n, repeats);
    double[] sWithout = time(() -> sink += pass.interceptCall(call, headers, handler).hashCode(), n, repeats);
    print("server check", sWith);
    print("server pass-through", sWithout);

    ClientInterceptor attach = Auth.clientInterceptor();
    FakeClientCall fake = new FakeClientCall();
    Channel channel = new Channel() {
      @SuppressWarnings("unchecked")
      public <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> m, CallOptions o) { return (ClientCall<Q, R>) fake; }
      public String authority() { return "x"; }
    };
    ClientCall.Listener<byte[]> cl = new ClientCall.Listener<byte[]>() {};
    double[] cWith = time(() -> attach.interceptCall(METHOD, CallOptions.DEFAULT, channel).start(cl, new Metadata()),
        n, repeats);
    double[] cWithout = time(() -> channel.newCall(METHOD, CallOptions.DEFAULT).start(cl, new Metadata()), n, repeats);
    if (fake.last.get(Auth.KEY) != null) throw new AssertionError("the bare call carried a token");
    attach.interceptCall(METHOD, CallOptions.DEFAULT, channel).start(cl, new Metadata());
    if (!("Bearer " + token).equals(fake.last.get(Auth.KEY))) throw new AssertionError("no token added");
    print("client interceptor", cWith);
    print("client bare", cWithout);

    byte[] frame = Auth.helloFrame();
    byte[] body = Arrays.copyOfRange(frame, 4, frame.length);
    if (!Auth.helloOk(body)) throw new AssertionError("hello refused");
    print("hello make", time(() -> sink += Auth.helloFrame().length, n, repeats));
    print("hello check", time(() -> sink += Auth.helloOk(body) ? 1 : 0, n, repeats));
    System.out.printf("added per call: server %.1f ns, client %.1f ns (medians)%n",
        sWith[repeats / 2] - sWithout[repeats / 2], cWith[repeats / 2] - cWithout[repeats / 2]);
    System.out.println("(sink " + sink + ")");
  }
}

package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.polyray.api.PolyRayConfig;
import io.polyray.api.spi.Runtimes;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.AddJobRequest;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.DrainLogsRequest;
import io.polyray.runtime.proto.GcsServiceGrpc;
import io.polyray.runtime.proto.GetAllNodesRequest;
import io.polyray.runtime.proto.JobInfo;
import io.polyray.runtime.proto.KVGetReply;
import io.polyray.runtime.proto.KVGetRequest;
import io.polyray.runtime.proto.KVPutRequest;
import io.polyray.runtime.proto.Language;
import io.polyray.runtime.proto.LogBatch;
import io.polyray.runtime.proto.MarkJobFinishedRequest;
import io.polyray.runtime.proto.NodeInfo;
import io.polyray.runtime.proto.RegisterWorkerRequest;
import io.polyray.runtime.proto.SubscribeLogsRequest;
import io.polyray.runtime.spec.RuntimeSpec;
import io.polyray.runtime.worker.CodeSearchPath;
import io.polyray.runtime.worker.Rpc;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The runtime of a Java driver: connects to a cluster (or starts an embedded one), adds
 * the job to the GCS (driver language JAVA, the code search path), serves the driver's
 * CoreWorkerService, registers with the local raylet, and runs a {@link CoreWorker}.
 * As python/polyray/api.py {@code _connect}.
 */
public final class DriverRuntime extends CoreRuntime {
  /**
   * grpc-java logs at INFO when a server's trailers arrive for a call this side already
   * cancelled (a race at every shutdown); not worth a user's attention. Held strongly so
   * the level sticks.
   */
  private static final java.util.logging.Logger GRPC_STREAM_LOG =
      java.util.logging.Logger.getLogger("io.grpc.internal.AbstractClientStream");

  static {
    GRPC_STREAM_LOG.setLevel(java.util.logging.Level.WARNING);
  }

  /** How long a driver of an embedded head waits for its dashboard's URL. */
  private static final long DASHBOARD_WAIT_MS = 10_000;

  private final Server server;
  private final String gcsAddress;
  private volatile String dashboardUrl = "";
  private volatile EmbeddedHead head;
  private volatile boolean stopped;
  /** Open once the GCS has our SubscribeLogs (its headers came): a DrainLogs marker reaches us. */
  private volatile CountDownLatch logsSubscribed = new CountDownLatch(1);
  private volatile boolean logsWanted;
  private final Map<String, CountDownLatch> drainMarkers = new ConcurrentHashMap<>();
  private Thread hook;

  private DriverRuntime(CoreWorker core, Server server, String gcsAddress) {
    super(core);
    this.server = server;
    this.gcsAddress = gcsAddress;
  }

  /**
   * Starts a driver as configured (see {@link PolyRayConfig}).
   *
   * @param config the configuration
   * @return the connected runtime
   * @throws IllegalStateException when the cluster cannot be started or reached
   */
  public static DriverRuntime start(PolyRayConfig config) {
    String address = ClusterAddress.resolve(config.getAddress());  // "auto", POLYRAY_ADDRESS, the record
    EmbeddedHead head = null;
    if (address == null) {
      head = EmbeddedHead.start(EmbeddedHead.python(config.getPythonExecutable()), config.getNumCpus(),
          config.getObjectStoreMemory(), config.getHeadStartTimeoutMs());
      address = head.address();
    } else {
      if (config.getNumCpus() != null || config.getObjectStoreMemory() != null) {
        throw new IllegalArgumentException("numCpus and objectStoreMemory can only be set when init() starts a "
            + "local cluster, not when connecting to " + address);
      }
    }
    try {
      DriverRuntime rt = connect(address, config);
      rt.head = head;
      rt.dashboardUrl = readDashboardUrl(address, head != null ? DASHBOARD_WAIT_MS : 0);
      if (!rt.dashboardUrl.isEmpty()) {
        System.err.println("[polyray] dashboard: " + rt.dashboardUrl);
      }
      rt.hook = new Thread(() -> {
        Runtimes.uninstall(rt);
        rt.stop(false);
      }, "polyray-shutdown");
      Runtime.getRuntime().addShutdownHook(rt.hook);
      return rt;
    } catch (RuntimeException e) {
      if (head != null) {
        head.stop();
      }
      throw e;
    }
  }

  /**
   * The JobInfo a Java driver registers: language, entrypoint, pid, namespace, code search
   * path, and the config's job metadata and default actor lifetime (JobInfo fields 11, 12).
   *
   * @param config the driver's config
   * @param csp the code search path
   * @param command the driver's command line
   * @return the job
   */
  static JobInfo jobInfo(PolyRayConfig config, List<String> csp, String command) {
    return JobInfo.newBuilder().setDriverLanguage(Language.JAVA)
        .setEntrypoint(command.substring(0, Math.min(command.length(), 1000)))
        .setDriverPid((int) ProcessHandle.current().pid()).setNamespace(config.getNamespace())
        .addAllCodeSearchPath(csp)
        .putAllMetadata(config.getJobMetadata())
        .setDefaultActorLifetime(wireLifetime(config.getDefaultActorLifetime()))
        .build();
  }

  /**
   * A lifetime as JobInfo.default_actor_lifetime spells it (as Python's JobConfig).
   *
   * @param lifetime the lifetime, or null
   * @return "detached", "non_detached", or "" for null
   */
  static String wireLifetime(io.polyray.api.ActorLifetime lifetime) {
    return lifetime == null ? "" : lifetime == io.polyray.api.ActorLifetime.DETACHED ? "detached" : "non_detached";
  }

  private static List<String> codeSearchPath(PolyRayConfig config) {
    if (config.getCodeSearchPath() != null) {
      return config.getCodeSearchPath();
    }
    String env = System.getenv("POLYRAY_CODE_SEARCH_PATH");
    if (env != null && !env.isEmpty()) {
      return CodeSearchPath.split(env);
    }
    return Sdk.userClassPath();
  }

  private static DriverRuntime connect(String address, PolyRayConfig config) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0 || colon == address.length() - 1) {
      throw new IllegalArgumentException("address must be host:port, got \"" + address + "\"");
    }
    String host = address.substring(0, colon);
    List<String> csp = codeSearchPath(config);
    ManagedChannel boot = io.polyray.runtime.worker.Auth.transport(NettyChannelBuilder.forTarget(address)).disableRetry()
        .intercept(io.polyray.runtime.worker.Auth.clientInterceptor()).build();
    NodeInfo node;
    ByteString jobId;
    try {
      GcsServiceGrpc.GcsServiceBlockingStub gcs = GcsServiceGrpc.newBlockingStub(boot);
      List<NodeInfo> alive = new ArrayList<>();
      for (NodeInfo n : gcs.withDeadlineAfter(5, TimeUnit.SECONDS).getAllNodes(GetAllNodesRequest.getDefaultInstance())
          .getNodesList()) {
        if (n.getAlive()) {
          alive.add(n);
        }
      }
      if (alive.isEmpty()) {
        throw new IllegalStateException("the polyray cluster at " + address + " has no alive node");
      }
      node = alive.get(0);
      Set<String> local = new HashSet<>(List.of(host, "127.0.0.1", "localhost"));
      for (NodeInfo n : alive) {
        if (local.contains(n.getRayletAddress().getHost())) {
          node = n;
          break;
        }
      }
      String command = "java " + System.getProperty("sun.java.command", "");
      JobInfo job = jobInfo(config, csp, command);
      jobId = gcs.withDeadlineAfter(10, TimeUnit.SECONDS).addJob(AddJobRequest.newBuilder().setJob(job).build())
          .getJobId();
      // As a Python driver stores its sys.path: where this job's Python code may live.
      gcs.withDeadlineAfter(10, TimeUnit.SECONDS).kVPut(KVPutRequest.newBuilder().setNamespace("job")
          .setKey(jobId.concat(ByteString.copyFromUtf8(":sys_path")))
          .setValue(ByteString.copyFrom(jsonList(csp), StandardCharsets.UTF_8)).setOverwrite(true).build());
    } catch (StatusRuntimeException e) {
      throw new IllegalStateException("could not reach a polyray GCS at " + address + ": "
          + e.getStatus().getCode() + ": " + e.getStatus().getDescription()
          + " (is a head running there? start one with `python -m polyray.node --head`)", e);
    } finally {
      boot.shutdownNow();
    }
    Address raylet = node.getRayletAddress();
    String nodeHost = raylet.getHost().isEmpty() ? "127.0.0.1" : raylet.getHost();
    CoreWorker.Options o = new CoreWorker.Options();
    o.isDriver = true;
    o.gcsAddress = address;
    o.rayletAddress = Rpc.target(raylet);
    o.nodeId = node.getNodeId();
    o.storeName = node.getStoreName();
    o.jobId = jobId;
    o.workerId = Ids.workerId();
    o.namespace = config.getNamespace();
    o.defaultActorLifetime = wireLifetime(config.getDefaultActorLifetime());
    o.codeSearchPath = csp;
    o.lineageMaxBytes = config.getLineageMaxBytes();
    CoreWorker core = new CoreWorker(o);
    // The driver's first large puts take no page faults (docs/performance.md, Large puts).
    io.polyray.runtime.store.Prefaulter.startInBackground(core::store, io.polyray.runtime.store.Prefaulter.bytesFromEnv());
    Server server;
    try {
      server = io.polyray.runtime.worker.Auth.transport(NettyServerBuilder.forAddress(new InetSocketAddress(nodeHost, 0)))
          .maxInboundMessageSize(RuntimeSpec.RPC_MAX_MESSAGE_BYTES)
          .permitKeepAliveTime(5, TimeUnit.SECONDS)
          .permitKeepAliveWithoutCalls(true)
          .directExecutor() // handlers answer at once or register a callback
          .addService(io.polyray.runtime.worker.Validation.guarded(new DriverService(core)))
          .intercept(io.polyray.runtime.worker.Auth.serverInterceptor()) // every call: the cluster token
          .build()
          .start();
    } catch (IOException e) {
      core.shutdown();
      throw new IllegalStateException("cannot start the driver's CoreWorker server on " + nodeHost + ": " + e, e);
    }
    core.setAddress(Address.newBuilder().setNodeId(node.getNodeId()).setHost(nodeHost).setPort(server.getPort())
        .setWorkerId(o.workerId).build());
    DriverRuntime rt = new DriverRuntime(core, server, address);
    try {
      String logDir = core.raylet().registerWorker(RegisterWorkerRequest.newBuilder().setWorkerId(o.workerId)
          .setLanguage(Language.JAVA).setPid((int) ProcessHandle.current().pid()).setPort(server.getPort())
          .setJobId(jobId).setIsDriver(true).build()).getLogDir();
      if (!logDir.isEmpty()) {
        System.err.println("[polyray] workers' log files: " + logDir);
      }
    } catch (StatusRuntimeException e) {
      rt.stop(false);
      throw new IllegalStateException("cannot register the driver with the raylet at " + o.rayletAddress + ": "
          + e.getStatus().getCode() + ": " + e.getStatus().getDescription(), e);
    }
    if (config.isLogToDriver()) {
      rt.subscribeLogs();
    }
    return rt;
  }

  /** A JSON array of strings (the job's sys.path entry in the GCS KV store). */
  static String jsonList(List<String> items) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < items.size(); i++) {
      if (i > 0) {
        sb.append(", ");
      }
      sb.append('"');
      for (char c : items.get(i).toCharArray()) {
        if (c == '"' || c == '\\') {
          sb.append('\\').append(c);
        } else if (c < 0x20) {
          sb.append(String.format("\\u%04x", (int) c));
        } else {
          sb.append(c);
        }
      }
      sb.append('"');
    }
    return sb.append(']').toString();
  }

  /** Prints the job's worker output here, as Ray prints print() in tasks. */
  private void subscribeLogs() {
    if (stopped) {
      return;
    }
    logsWanted = true;
    CountDownLatch subscribed = new CountDownLatch(1);
    logsSubscribed = subscribed;
    ClientInterceptor onHeaders = new ClientInterceptor() {
      @Override
      public <Q, A> ClientCall<Q, A> interceptCall(MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
        return new ForwardingClientCall.SimpleForwardingClientCall<Q, A>(next.newCall(method, options)) {
          @Override
          public void start(Listener<A> listener, Metadata headers) {
            super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<A>(listener) {
              @Override
              public void onHeaders(Metadata received) {
                subscribed.countDown();
                super.onHeaders(received);
              }
            }, headers);
          }
        };
      }
    };
    try {
      core.gcsAsync().withInterceptors(onHeaders).subscribeLogs(
          SubscribeLogsRequest.newBuilder().setJobId(core.jobId).build(),
          new StreamObserver<LogBatch>() {
            @Override
            public void onNext(LogBatch batch) {
              if (!batch.getDrainToken().isEmpty()) {
                CountDownLatch marker = drainMarkers.get(batch.getDrainToken());
                if (marker != null) {
                  marker.countDown();
                }
                return;
              }
              PrintStream out = batch.getIsError() ? System.err : System.out;
              String label = batch.getWorkerLabel().isEmpty() ? "pid=" + batch.getPid() : batch.getWorkerLabel();
              if (batch.getDroppedLines() > 0) {
                System.err.println("[polyray] " + batch.getDroppedLines() + " line(s) of (" + label
                    + ") were dropped (the raylet's buffer was full)");
              }
              StringBuilder sb = new StringBuilder();
              for (String line : batch.getLinesList()) {
                sb.append('(').append(label).append(") ").append(line).append('\n');
              }
              out.print(sb);
              out.flush();
            }

            @Override
            public void onError(Throwable t) {
              resubscribe();
            }

            @Override
            public void onCompleted() {
              resubscribe();
            }
          });
    } catch (RuntimeException e) {
      // shutting down
    }
  }

  /**
   * Waits (at most the spec's [logs] drain_ms) until every line the job's workers printed before now
   * has been printed here: the GCS drains every raylet, then puts our marker into the log stream.
   */
  private void drainLogs() {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RuntimeSpec.LOGS_DRAIN_MS);
    String token = Long.toHexString(new java.security.SecureRandom().nextLong());
    CountDownLatch marker = new CountDownLatch(1);
    drainMarkers.put(token, marker);
    boolean done = false;
    try {
      if (logsSubscribed.await(RuntimeSpec.LOGS_DRAIN_MS, TimeUnit.MILLISECONDS)) {
        core.gcs().withDeadlineAfter(RuntimeSpec.LOGS_DRAIN_MS + 1000, TimeUnit.MILLISECONDS)
            .drainLogs(DrainLogsRequest.newBuilder().setJobId(core.jobId).setToken(token)
                .setTimeoutMs(RuntimeSpec.LOGS_DRAIN_MS).build());
        done = marker.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      // the GCS is gone: nothing more can come
    } finally {
      drainMarkers.remove(token);
    }
    if (!done) {
      System.err.println("[polyray] worker output not fully drained within " + RuntimeSpec.LOGS_DRAIN_MS + " ms");
    }
  }

  private void resubscribe() {
    if (stopped || core.shuttingDown) {
      return;
    }
    try {
      core.loop.schedule(this::subscribeLogs, 500, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // shut down
    }
  }

  @Override
  public String getGcsAddress() {
    return gcsAddress;
  }

  @Override
  public String getDashboardUrl() {
    return dashboardUrl;
  }

  /**
   * The dashboard URL the head put in its GCS KV store (python/polyray/node.py DASHBOARD_KV):
   * an embedded head writes it a moment after it serves the GCS, so its driver waits (at most
   * {@code waitMs}); "" when the head serves none.
   */
  static String readDashboardUrl(String address, long waitMs) {
    ManagedChannel ch = io.polyray.runtime.worker.Auth.transport(NettyChannelBuilder.forTarget(address))
        .disableRetry().intercept(io.polyray.runtime.worker.Auth.clientInterceptor()).build();
    try {
      GcsServiceGrpc.GcsServiceBlockingStub gcs = GcsServiceGrpc.newBlockingStub(ch);
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
      while (true) {
        try {
          KVGetReply reply = gcs.withDeadlineAfter(5, TimeUnit.SECONDS).kVGet(KVGetRequest.newBuilder()
              .setNamespace("cluster").setKey(ByteString.copyFromUtf8("dashboard_url")).build());
          if (reply.getFound()) {
            return reply.getValue().toStringUtf8();
          }
        } catch (StatusRuntimeException e) {
          // the GCS is busy or away: try again until the deadline
        }
        if (System.nanoTime() >= deadline) {
          return "";
        }
        Thread.sleep(50);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "";
    } finally {
      ch.shutdownNow();
    }
  }

  @Override
  public void shutdown() {
    stop(true);
  }

  private synchronized void stop(boolean removeHook) {
    if (stopped) {
      return;
    }
    stopped = true;
    if (removeHook && hook != null) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // the JVM is exiting: the hook runs this anyway
      }
    }
    if (logsWanted) {
      drainLogs();
    }
    try {
      // The job ends: the GCS kills its non-detached actors.
      core.gcs().withDeadlineAfter(5, TimeUnit.SECONDS)
          .markJobFinished(MarkJobFinishedRequest.newBuilder().setJobId(core.jobId).build());
    } catch (RuntimeException e) {
      // the cluster is gone already
    }
    core.shutdown();
    server.shutdownNow();
    try {
      server.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    EmbeddedHead h = head;
    if (h != null) {
      h.stop();
    }
  }
}

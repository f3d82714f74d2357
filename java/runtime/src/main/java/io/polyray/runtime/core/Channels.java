package io.polyray.runtime.core;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.spec.RuntimeSpec;
import io.polyray.runtime.worker.Auth;
import io.polyray.runtime.worker.Rpc;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * The gRPC channels of one CoreWorker, one per {@code host:port}, cached. Callbacks of
 * asynchronous calls run on the CoreWorker's io thread (the channel's executor), so the
 * submitters' state needs no locks. No keepalive pings: the Python servers (GCS, raylet)
 * would answer a long pending call with GOAWAY "too_many_pings", and a dead peer on this
 * machine closes its socket anyway. {@link #pushTasks} opens a PushTasks stream, over the
 * worker's push port when it offers one ({@link PushPortClient}), else over gRPC; push
 * connections still open at {@link #closeAll} are dropped, as gRPC streams are.
 */
final class Channels {
  private final Executor executor;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Set<PushPortClient> pushConnections = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  Channels(Executor executor) {
    this.executor = executor;
  }

  /** A channel to {@code host:port}. */
  ManagedChannel get(String target) {
    if (closed) {
      throw new IllegalStateException("the polyray runtime is shut down");
    }
    return channels.computeIfAbsent(target, t -> Auth.transport(NettyChannelBuilder.forTarget(t))
        .maxInboundMessageSize(RuntimeSpec.RPC_MAX_MESSAGE_BYTES)
        .disableRetry()
        .executor(executor)
        .intercept(Auth.clientInterceptor())
        .build());
  }

  /** A channel to an address. */
  ManagedChannel get(Address a) {
    return get(Rpc.target(a));
  }

  /**
   * Opens a PushTasks stream to a worker: over its push port when it has one and
   * {@code POLYRAY_PUSH_PORT=0} is not set, else over gRPC. Either way the replies and the
   * end reach {@code replies} on the io thread, and a broken stream ends in onError with
   * an UNAVAILABLE status.
   *
   * @param worker the worker's address
   * @param replies gets the replies, then the end
   * @return the request side
   */
  StreamObserver<PushTasksRequest> pushTasks(Address worker, StreamObserver<PushTasksReply> replies) {
    if (!PushPortClient.usable(worker)) {
      return CoreWorkerServiceGrpc.newStub(get(worker)).pushTasks(replies);
    }
    if (closed) {
      throw new IllegalStateException("the polyray runtime is shut down");
    }
    PushPortClient c = new PushPortClient(worker.getHost(), worker.getPushPort(), replies, executor,
        pushConnections::remove);
    pushConnections.add(c);
    c.start();
    if (closed) {
      c.abort(); // closeAll ran meanwhile
    }
    return c;
  }

  /** Closes every channel (calls in flight fail with CANCELLED / UNAVAILABLE). */
  void closeAll() {
    closed = true;
    for (PushPortClient c : pushConnections) {
      c.abort();
    }
    pushConnections.clear();
    for (ManagedChannel ch : channels.values()) {
      ch.shutdownNow();
    }
    for (ManagedChannel ch : channels.values()) {
      try {
        ch.awaitTermination(2, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    channels.clear();
  }
}

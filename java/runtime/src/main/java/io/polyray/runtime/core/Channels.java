package io.polyray.runtime.core;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.worker.Rpc;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * The gRPC channels of one CoreWorker, one per {@code host:port}, cached. Callbacks of
 * asynchronous calls run on the CoreWorker's io thread (the channel's executor), so the
 * submitters' state needs no locks. No keepalive pings: the Python servers (GCS, raylet)
 * would answer a long pending call with GOAWAY "too_many_pings", and a dead peer on this
 * machine closes its socket anyway.
 */
final class Channels {
  private final Executor executor;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private volatile boolean closed;

  Channels(Executor executor) {
    this.executor = executor;
  }

  /** A channel to {@code host:port}. */
  ManagedChannel get(String target) {
    if (closed) {
      throw new IllegalStateException("the polyray runtime is shut down");
    }
    return channels.computeIfAbsent(target, t -> NettyChannelBuilder.forTarget(t)
        .usePlaintext()
        .maxInboundMessageSize(Rpc.MAX_MESSAGE)
        .disableRetry()
        .executor(executor)
        .build());
  }

  /** A channel to an address. */
  ManagedChannel get(Address a) {
    return get(Rpc.target(a));
  }

  /** Closes every channel (calls in flight fail with CANCELLED / UNAVAILABLE). */
  void closeAll() {
    closed = true;
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

package io.polyray.runtime.worker;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.polyray.runtime.proto.Address;
import java.util.concurrent.TimeUnit;

/** gRPC settings shared by the worker's server and clients (as python/polyray/core/rpc.py). */
public final class Rpc {
  /** Largest message: a batch of tasks or results can be sizeable. */
  public static final int MAX_MESSAGE = 512 * 1024 * 1024;
  /** Deadline of control-plane calls (raylet, GCS), in seconds. */
  public static final long RPC_TIMEOUT_S = 30;
  /** How long an owner may hold a GetObject before answering timed_out, in ms. */
  public static final long GET_OBJECT_WAIT_MS = 30_000;
  /** Deadline of one GetObject call: the owner's wait plus slack, in seconds. */
  public static final long GET_OBJECT_DEADLINE_S = 40;

  private Rpc() {}

  /**
   * A plaintext channel to {@code host:port} with polyray's options.
   *
   * @param target {@code host:port}
   * @return the channel
   */
  public static ManagedChannel channel(String target) {
    return NettyChannelBuilder.forTarget(target)
        .usePlaintext()
        .maxInboundMessageSize(MAX_MESSAGE)
        .keepAliveTime(10, TimeUnit.SECONDS)
        .keepAliveTimeout(5, TimeUnit.SECONDS)
        .keepAliveWithoutCalls(true)
        .disableRetry()
        .build();
  }

  /**
   * {@code host:port} of an address.
   *
   * @param a the address
   * @return the target string
   */
  public static String target(Address a) {
    String host = a.getHost();
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
  }
}

package io.polyray.runtime.worker;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.spec.RuntimeSpec;

/**
 * gRPC settings shared by the worker's server and clients (as python/polyray/core/rpc.py).
 * Limits and deadlines are the runtime spec's ({@link RuntimeSpec}); only local choices live here.
 */
public final class Rpc {
  /**
   * Deadline of one GetObject call: the owner's wait (a runtime-spec constant) plus slack,
   * so the owner's timed_out answer arrives before the deadline cuts the call.
   */
  public static final long GET_OBJECT_DEADLINE_S = RuntimeSpec.RPC_GET_OBJECT_WAIT_MS / 1000 + 10;

  private Rpc() {}

  /**
   * A plaintext channel to {@code host:port} with polyray's options. No keepalive pings (as
   * every other polyray channel, core/Channels and the Python and C++ ones): this channel's
   * 10 s pings without calls were strikes at the raylet, whose gRPC server allowed none on an
   * idle connection, so a worker idle for ~30 s got GOAWAY "too_many_pings" and a call on the
   * closing connection could fail UNAVAILABLE. A dead raylet or owner on this machine closes
   * its socket, which ends calls at once.
   *
   * @param target {@code host:port}
   * @return the channel
   */
  public static ManagedChannel channel(String target) {
    return Auth.transport(NettyChannelBuilder.forTarget(target))
        .maxInboundMessageSize(RuntimeSpec.RPC_MAX_MESSAGE_BYTES)
        .disableRetry()
        .intercept(Auth.clientInterceptor())
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

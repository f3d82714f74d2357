package io.polyray.runtime.worker;

import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.GetObjectReply;
import io.polyray.runtime.proto.GetObjectRequest;
import io.polyray.runtime.proto.PinObjectsReply;
import io.polyray.runtime.proto.PinObjectsRequest;
import io.polyray.runtime.proto.RayletServiceGrpc;
import io.polyray.runtime.proto.RegisterWorkerReply;
import io.polyray.runtime.proto.RegisterWorkerRequest;
import io.polyray.runtime.store.ObjectId;
import io.polyray.runtime.store.SharedStore;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

/**
 * A small stand-in for a node, on one real gRPC server: the raylet's RegisterWorker and
 * PinObjects, and the CoreWorkerService.GetObject of an owner (the "driver" that
 * submits tasks and owns their arguments).
 */
final class FakeNode implements AutoCloseable {
  final ByteString nodeId = randomBytes(28);
  final ByteString ownerWorkerId = randomBytes(28);
  final SharedStore store;
  final List<RegisterWorkerRequest> registrations = new CopyOnWriteArrayList<>();
  final List<PinObjectsRequest> pins = new CopyOnWriteArrayList<>();
  /** GetObject answers by object ID; a function so a test can answer timed_out first. */
  final Map<ByteString, Function<Integer, GetObjectReply>> objects = new ConcurrentHashMap<>();
  final Map<ByteString, Integer> asks = new ConcurrentHashMap<>();
  private final Server server;

  FakeNode(SharedStore store) throws IOException {
    this.store = store;
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(new Raylet())
        .addService(new Owner())
        .build()
        .start();
  }

  static ByteString randomBytes(int n) {
    byte[] b = new byte[n];
    ThreadLocalRandom.current().nextBytes(b);
    return ByteString.copyFrom(b);
  }

  int port() {
    return server.getPort();
  }

  String address() {
    return "127.0.0.1:" + port();
  }

  /** The address of the owner (the caller of pushed tasks). */
  Address ownerAddress() {
    return Address.newBuilder().setNodeId(nodeId).setHost("127.0.0.1").setPort(port()).setWorkerId(ownerWorkerId)
        .build();
  }

  private final class Raylet extends RayletServiceGrpc.RayletServiceImplBase {
    @Override
    public void registerWorker(RegisterWorkerRequest req, StreamObserver<RegisterWorkerReply> out) {
      registrations.add(req);
      out.onNext(RegisterWorkerReply.newBuilder().setNodeId(nodeId).setStoreName(store.name()).build());
      out.onCompleted();
    }

    @Override
    public void pinObjects(PinObjectsRequest req, StreamObserver<PinObjectsReply> out) {
      pins.add(req);
      PinObjectsReply.Builder b = PinObjectsReply.newBuilder();
      for (ByteString id : req.getObjectIdsList()) {
        b.addPinned(store.contains(ObjectId.fromBytes(id.toByteArray())));
      }
      out.onNext(b.build());
      out.onCompleted();
    }
  }

  private final class Owner extends CoreWorkerServiceGrpc.CoreWorkerServiceImplBase {
    @Override
    public void getObject(GetObjectRequest req, StreamObserver<GetObjectReply> out) {
      int n = asks.merge(req.getObjectId(), 1, Integer::sum);
      Function<Integer, GetObjectReply> f = objects.get(req.getObjectId());
      out.onNext(f == null ? GetObjectReply.newBuilder().setFound(false).build() : f.apply(n));
      out.onCompleted();
    }
  }

  @Override
  public void close() {
    server.shutdownNow();
  }
}

package io.polyray.runtime.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.stub.StreamObserver;
import io.polyray.api.ObjectRef;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.GetObjectReply;
import io.polyray.runtime.proto.GetObjectsReply;
import io.polyray.runtime.proto.GetObjectsRequest;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.UpdateBorrowsReply;
import io.polyray.runtime.proto.UpdateBorrowsRequest;
import io.polyray.runtime.spec.RuntimeSpec;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The Java fetcher's caps (ObjectGetter; docs/ownership.md, "Fan-out") against a fake owner:
 * a real gRPC server on localhost that answers GetObjects after a short delay and counts the
 * calls open at once and the ids in each. A real driver CoreWorker (no cluster: nothing else
 * is called) borrows 5,000 objects of that owner and gets them all.
 */
class ObjectGetterFanoutTest {
  private static final int N = 5_000;

  /** The owner: values are the objects' numbers; answers 20 ms after each call arrives. */
  static final class FakeOwner extends CoreWorkerServiceGrpc.CoreWorkerServiceImplBase {
    final AtomicInteger open = new AtomicInteger();
    final AtomicInteger most = new AtomicInteger();
    final List<Integer> batches = Collections.synchronizedList(new ArrayList<>());
    final ScheduledExecutorService later = Executors.newSingleThreadScheduledExecutor();
    final io.polyray.runtime.codec.Codec codec;

    FakeOwner(io.polyray.runtime.codec.Codec codec) {
      this.codec = codec;
    }

    @Override
    public void getObjects(GetObjectsRequest request, StreamObserver<GetObjectsReply> out) {
      most.accumulateAndGet(open.incrementAndGet(), Math::max);
      batches.add(request.getObjectIdsCount());
      later.schedule(() -> {
        GetObjectsReply.Builder b = GetObjectsReply.newBuilder();
        for (ByteString oid : request.getObjectIdsList()) {
          long value = ByteBuffer.wrap(oid.toByteArray(), 0, 8).getLong();
          b.addObjectIds(oid).addObjects(GetObjectReply.newBuilder().setFound(true).setObject(ReturnObject
              .newBuilder().setObjectId(oid).setValue(codec.encode(value).toEnvelope())));
        }
        open.decrementAndGet();
        out.onNext(b.build());
        out.onCompleted();
      }, 20, TimeUnit.MILLISECONDS);
    }

    @Override
    public void updateBorrows(UpdateBorrowsRequest request, StreamObserver<UpdateBorrowsReply> out) {
      out.onNext(UpdateBorrowsReply.getDefaultInstance());
      out.onCompleted();
    }
  }

  private static ByteString id(long i, int size) {
    ByteBuffer b = ByteBuffer.allocate(size);
    b.putLong(i);
    return ByteString.copyFrom(b.array());
  }

  @Test
  void aGetOfManyBorrowedObjectsIsBatchedAndCappedPerOwner() throws Exception {
    CoreWorker.Options o = new CoreWorker.Options();
    o.isDriver = true;
    o.gcsAddress = "127.0.0.1:1";
    o.rayletAddress = "127.0.0.1:1";
    o.nodeId = id(7, 28);
    o.jobId = id(1, 8).substring(4);
    o.workerId = id(9, 28);
    CoreWorker w = new CoreWorker(o);
    FakeOwner fake = new FakeOwner(w.codec);
    Server server = ServerBuilder.forPort(0).addService(fake).build().start();
    try {
      Address owner = Address.newBuilder().setHost("127.0.0.1").setPort(server.getPort())
          .setWorkerId(id(42, 28)).build();
      List<ObjectRef<?>> refs = new ArrayList<>();
      for (long i = 0; i < N; i++) {
        refs.add(w.refFromProto(io.polyray.runtime.proto.ObjectRef.newBuilder().setObjectId(id(i, 28))
            .setOwner(owner).build(), Long.class));
      }
      List<Object> values = w.getAll(refs, 60_000);
      for (int i = 0; i < N; i++) {
        assertEquals((long) i, ((Number) values.get(i)).longValue());
      }
      int max = RuntimeSpec.FANOUT_MAX_IDS_PER_FETCH;
      assertTrue(fake.most.get() <= RuntimeSpec.FANOUT_MAX_FETCHES_IN_FLIGHT_PER_OWNER,
          "calls open to one owner: " + fake.most.get());
      assertEquals(N, fake.batches.stream().mapToInt(Integer::intValue).sum(), "each id asked once");
      assertTrue(fake.batches.stream().allMatch(n -> n <= max), "ids per call: " + fake.batches);
      assertEquals((N + max - 1) / max, fake.batches.size(), "full batches, not a call per id: " + fake.batches);
      assertEquals(RuntimeSpec.FANOUT_MAX_FETCHES_IN_FLIGHT_PER_OWNER, fake.most.get(), "the cap is reached");
    } finally {
      w.shutdown();
      server.shutdownNow();
      fake.later.shutdownNow();
    }
  }
}

package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.codec.Codec;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.proto.Envelope;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.Format;
import io.polyray.runtime.proto.GetObjectReply;
import io.polyray.runtime.proto.GetObjectRequest;
import io.polyray.runtime.proto.GetObjectsReply;
import io.polyray.runtime.proto.GetObjectsRequest;
import io.polyray.runtime.proto.ReturnObject;
import io.polyray.runtime.proto.UpdateBorrowsReply;
import io.polyray.runtime.proto.UpdateBorrowsRequest;
import io.polyray.runtime.ref.Hex;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The owner side of a {@link CoreWorker}: answers borrowers' GetObject and
 * UpdateBorrows for the objects it owns.
 */
public final class ObjectServer {
  private final CoreWorker w;

  ObjectServer(CoreWorker w) {
    this.w = w;
  }

  /**
   * Answers a borrower's GetObject for an object owned here: at once when it is known,
   * else when it becomes known or after the request's timeout.
   *
   * @param request the request
   * @param out the reply stream
   */
  public void serveGetObject(GetObjectRequest request, StreamObserver<GetObjectReply> out) {
    ByteString oid = request.getObjectId();
    MemoryStore.Entry e = w.memoryStore.getIfReady(oid);
    if (request.getLost() && e != null && e.error == null && e.envelope == null && w.references.isOwned(oid)) {
      // A borrower could read no copy: off the gRPC thread, probe the copies and recompute
      // the object when none is left, then answer with what comes.
      GetObjectRequest again = request.toBuilder().setLost(false).build();
      try {
        w.recoveryExecutor().execute(() -> {
          if (!w.recovery.anyCopy(oid, e)) {
            w.recovery.recover(oid, e);
          }
          serveGetObject(again, out);
        });
      } catch (RejectedExecutionException x) {
        out.onError(Status.UNAVAILABLE.withDescription("shutting down").asRuntimeException());
      }
      return;
    }
    if (e != null) {
      reply(out, oid, e);
      return;
    }
    if (!w.references.isOwned(oid) && !w.memoryStore.contains(oid)) {
      out.onNext(GetObjectReply.newBuilder().setFound(false).setFailure(ErrorRecords.system(ErrorKind.OBJECT_LOST,
          "object " + Hex.of(oid.toByteArray()) + " is not owned by worker " + Hex.of(w.workerId.toByteArray())
              .substring(0, 12) + " (already freed, or never existed)")).build());
      out.onCompleted();
      return;
    }
    AtomicBoolean done = new AtomicBoolean();
    if (request.getTimeoutMs() >= 0) {
      try {
        w.loop.schedule(() -> {
          if (done.compareAndSet(false, true)) {
            out.onNext(GetObjectReply.newBuilder().setTimedOut(true).build());
            out.onCompleted();
          }
        }, request.getTimeoutMs(), TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException x) {
        done.set(true);
        out.onError(Status.UNAVAILABLE.withDescription("shutting down").asRuntimeException());
        return;
      }
    }
    w.memoryStore.future(oid).thenAccept(entry -> {
      if (done.compareAndSet(false, true)) {
        reply(out, oid, entry);
      }
    });
  }

  /**
   * Answers a borrower's GetObjects: every id that is ready (or not owned here) at once;
   * when none is, the ones ready when the first becomes ready, or an empty reply after the
   * request's timeout (the borrower asks again for the ids not answered). Ids marked lost
   * are checked first, off the gRPC thread, as GetObject does.
   *
   * @param request the request
   * @param out the reply stream
   */
  public void serveGetObjects(GetObjectsRequest request, StreamObserver<GetObjectsReply> out) {
    if (request.getLostCount() > 0) {
      GetObjectsRequest again = request.toBuilder().clearLost().build();
      try {
        w.recoveryExecutor().execute(() -> {
          for (ByteString oid : request.getLostList()) {
            MemoryStore.Entry e = w.memoryStore.getIfReady(oid);
            if (e != null && e.error == null && e.envelope == null && w.references.isOwned(oid)
                && !w.recovery.anyCopy(oid, e)) {
              w.recovery.recover(oid, e);
            }
          }
          serveGetObjects(again, out);
        });
      } catch (RejectedExecutionException x) {
        out.onError(Status.UNAVAILABLE.withDescription("shutting down").asRuntimeException());
      }
      return;
    }
    List<ByteString> ids = new ArrayList<>(new LinkedHashSet<>(request.getObjectIdsList()));
    GetObjectsReply.Builder b = GetObjectsReply.newBuilder();
    List<ByteString> waiting = new ArrayList<>();
    for (ByteString oid : ids) {
      MemoryStore.Entry e = w.memoryStore.getIfReady(oid);
      if (e != null) {
        b.addObjectIds(oid).addObjects(answer(oid, e));
      } else if (!w.references.isOwned(oid) && !w.memoryStore.contains(oid)) {
        b.addObjectIds(oid).addObjects(notOwned(oid));
      } else {
        waiting.add(oid);
      }
    }
    if (b.getObjectIdsCount() > 0 || waiting.isEmpty()) {
      send(out, b.build());
      return;
    }
    AtomicBoolean done = new AtomicBoolean();
    if (request.getTimeoutMs() >= 0) {
      try {
        w.loop.schedule(() -> {
          if (done.compareAndSet(false, true)) {
            send(out, GetObjectsReply.getDefaultInstance());
          }
        }, request.getTimeoutMs(), TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException x) {
        out.onError(Status.UNAVAILABLE.withDescription("shutting down").asRuntimeException());
        return;
      }
    }
    for (ByteString oid : waiting) {
      w.memoryStore.future(oid).thenAccept(first -> {
        if (!done.compareAndSet(false, true)) {
          return;
        }
        GetObjectsReply.Builder r = GetObjectsReply.newBuilder();
        for (ByteString o : waiting) {
          MemoryStore.Entry e = o.equals(oid) ? first : w.memoryStore.getIfReady(o);
          if (e != null) {
            r.addObjectIds(o).addObjects(answer(o, e));
          }
        }
        send(out, r.build());
      });
    }
  }

  private GetObjectReply notOwned(ByteString oid) {
    return GetObjectReply.newBuilder().setFound(false).setFailure(ErrorRecords.system(ErrorKind.OBJECT_LOST,
        "object " + Hex.of(oid.toByteArray()) + " is not owned by worker " + Hex.of(w.workerId.toByteArray())
            .substring(0, 12) + " (already freed, or never existed)")).build();
  }

  private static void send(StreamObserver<GetObjectsReply> out, GetObjectsReply reply) {
    try {
      out.onNext(reply);
      out.onCompleted();
    } catch (RuntimeException x) {
      // the borrower went away
    }
  }

  private GetObjectReply answer(ByteString oid, MemoryStore.Entry e) {
    GetObjectReply.Builder b = GetObjectReply.newBuilder().setFound(true);
    if (e.error != null) {
      b.setObject(ReturnObject.newBuilder().setObjectId(oid).setValue(Envelope.newBuilder()
          .setFormat(Format.FORMAT_ERROR).setBody(ByteString.copyFrom(Codec.encodeError(e.error).body()))));
    } else if (e.envelope != null) {
      b.setObject(ReturnObject.newBuilder().setObjectId(oid).setValue(e.envelope).setSize(e.size));
    } else {
      // Every known copy, the primary first (copies pulled to other nodes).
      b.setObject(ReturnObject.newBuilder().setObjectId(oid).setInStoreNode(e.inStoreNode).setSize(e.size))
          .addAllLocations(w.locations.of(oid, e.inStoreNode));
    }
    return b.build();
  }

  private void reply(StreamObserver<GetObjectReply> out, ByteString oid, MemoryStore.Entry e) {
    try {
      out.onNext(answer(oid, e));
      out.onCompleted();
    } catch (RuntimeException x) {
      // the borrower went away
    }
  }

  /**
   * A borrower registered or released objects owned here.
   *
   * @param request the request
   * @param out the reply stream
   */
  public void serveUpdateBorrows(UpdateBorrowsRequest request, StreamObserver<UpdateBorrowsReply> out) {
    io.polyray.runtime.proto.Address lender =
        request.hasLender() && !request.getLender().getWorkerId().isEmpty() ? request.getLender() : null;
    w.references.updateBorrowers(request.getBorrower().getWorkerId(), request.getAddedList(), request.getRemovedList(),
        request.getLentList(), request.getLentReceivedList(), request.getBorrower(), lender,
        request.getLentReceivedLendersList());
    out.onNext(UpdateBorrowsReply.getDefaultInstance());
    out.onCompleted();
  }
}

package io.polyray.runtime.core;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.AddObjectLocationReply;
import io.polyray.runtime.proto.AddObjectLocationRequest;
import io.polyray.runtime.proto.CancelTaskReply;
import io.polyray.runtime.proto.CancelTaskRequest;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.ExitReply;
import io.polyray.runtime.proto.ExitRequest;
import io.polyray.runtime.proto.GetObjectReply;
import io.polyray.runtime.proto.GetObjectRequest;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.UpdateBorrowsReply;
import io.polyray.runtime.proto.UpdateBorrowsRequest;
import io.polyray.runtime.spec.RuntimeSpec;
import io.polyray.runtime.worker.Validation;

/**
 * The CoreWorkerService of a Java driver (docs/protocol.md §6): it owns objects, so it
 * answers GetObject and UpdateBorrows; it runs no tasks (PushTasks is refused) and does
 * not exit on request.
 */
final class DriverService extends CoreWorkerServiceGrpc.CoreWorkerServiceImplBase {
  private final CoreWorker core;

  DriverService(CoreWorker core) {
    this.core = core;
  }

  @Override
  public StreamObserver<PushTasksRequest> pushTasks(StreamObserver<PushTasksReply> out) {
    out.onError(Status.UNIMPLEMENTED.withDescription("a Java driver runs no tasks").asRuntimeException());
    return new StreamObserver<PushTasksRequest>() {
      @Override
      public void onNext(PushTasksRequest value) {}

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    };
  }

  @Override
  public void getObject(GetObjectRequest request, StreamObserver<GetObjectReply> out) {
    if (invalid(out, () -> Validation.checkId(request.getObjectId(), "GetObjectRequest.object_id",
        RuntimeSpec.IDS_OBJECT_BYTES, false))) {
      return;
    }
    core.objectServer().serveGetObject(request, out);
  }

  @Override
  public void getObjects(io.polyray.runtime.proto.GetObjectsRequest request,
      StreamObserver<io.polyray.runtime.proto.GetObjectsReply> out) {
    if (invalid(out, () -> Validation.checkGetObjects(request))) {
      return;
    }
    core.objectServer().serveGetObjects(request, out);
  }

  @Override
  public void updateBorrows(UpdateBorrowsRequest request, StreamObserver<UpdateBorrowsReply> out) {
    if (invalid(out, () -> Validation.checkBorrows(request))) {
      return;
    }
    core.objectServer().serveUpdateBorrows(request, out);
  }

  @Override
  public void addObjectLocation(AddObjectLocationRequest request, StreamObserver<AddObjectLocationReply> out) {
    if (invalid(out, () -> {
      Validation.checkId(request.getObjectId(), "AddObjectLocationRequest.object_id", RuntimeSpec.IDS_OBJECT_BYTES,
          false);
      Validation.checkId(request.getNodeId(), "AddObjectLocationRequest.node_id", RuntimeSpec.IDS_NODE_BYTES, false);
    })) {
      return;
    }
    core.addObjectLocation(request.getObjectId(), request.getNodeId());
    out.onNext(AddObjectLocationReply.getDefaultInstance());
    out.onCompleted();
  }

  @Override
  public void cancelTask(CancelTaskRequest request, StreamObserver<CancelTaskReply> out) {
    // A borrower of a task this driver submitted: forwarded to the worker that runs it.
    core.serveCancel(request, () -> false, out);
  }

  @Override
  public void exit(ExitRequest request, StreamObserver<ExitReply> out) {
    out.onNext(ExitReply.newBuilder().setAccepted(false).build());
    out.onCompleted();
  }

  @Override
  public void getObjectRefs(io.polyray.runtime.proto.GetObjectRefsRequest request,
      StreamObserver<io.polyray.runtime.proto.GetObjectRefsReply> out) {
    if (invalid(out, () -> Validation.checkGetObjectRefs(request))) {
      return;
    }
    out.onNext(core.listObjectRefs(request));
    out.onCompleted();
  }

  private static boolean invalid(StreamObserver<?> out, Runnable check) {
    try {
      check.run();
      return false;
    } catch (Validation.InvalidInput e) {
      out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      return true;
    }
  }
}

package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.ids.Ids;
import io.polyray.runtime.proto.AddObjectLocationReply;
import io.polyray.runtime.proto.AddObjectLocationRequest;
import io.polyray.runtime.proto.Address;
import io.polyray.runtime.proto.CancelTaskReply;
import io.polyray.runtime.proto.CancelTaskRequest;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.GetObjectRefsReply;
import io.polyray.runtime.proto.GetObjectRefsRequest;
import io.polyray.runtime.proto.GetObjectReply;
import io.polyray.runtime.proto.GetObjectRequest;
import io.polyray.runtime.proto.GetObjectsReply;
import io.polyray.runtime.proto.GetObjectsRequest;
import io.polyray.runtime.proto.Language;
import io.polyray.runtime.proto.UpdateBorrowsReply;
import io.polyray.runtime.proto.UpdateBorrowsRequest;
import io.polyray.runtime.worker.Validation;
import java.util.function.BooleanSupplier;

/**
 * The CoreWorkerService handlers a Java driver and a Java worker share (docs/protocol.md §6):
 * the owner's side of GetObject(s), UpdateBorrows, AddObjectLocation and GetObjectRefs go to
 * the process's {@link CoreWorker}, CancelTask to its cancel path, each request checked first
 * (bad input: INVALID_ARGUMENT naming the field). What differs is in the subclasses:
 * PushTasks and Exit, what runs a cancelled task here, and the IDs a worker answers with
 * before its CoreWorker exists ({@link #core()} null: it owns nothing yet).
 */
public abstract class CoreWorkerServiceBase extends CoreWorkerServiceGrpc.CoreWorkerServiceImplBase {
  /** For subclasses. */
  protected CoreWorkerServiceBase() {}

  /**
   * This process's CoreWorker.
   *
   * @return it, or null while a worker is starting
   */
  protected abstract CoreWorker core();

  /**
   * This process's WorkerID (for answers given without a CoreWorker).
   *
   * @return the WorkerID
   */
  protected abstract ByteString workerId();

  /**
   * This process's NodeID (for answers given without a CoreWorker).
   *
   * @return the NodeID
   */
  protected abstract ByteString nodeId();

  /**
   * What cancels a task this process runs (called when the task is not one it submitted).
   *
   * @param request the cancel request
   * @return true when this process ran the task and cancelled it
   */
  protected abstract BooleanSupplier cancelRunning(CancelTaskRequest request);

  @Override
  public void getObject(GetObjectRequest request, StreamObserver<GetObjectReply> out) {
    if (invalid(out, () -> Validation.checkId(request.getObjectId(), "GetObjectRequest.object_id",
        Ids.OBJECT_BYTES, false))) {
      return;
    }
    CoreWorker core = core();
    if (core != null) {
      core.objectServer().serveGetObject(request, out); // objects put (or tasks submitted) here
      return;
    }
    out.onNext(notOwned(request.getObjectId()).build());
    out.onCompleted();
  }

  @Override
  public void getObjects(GetObjectsRequest request, StreamObserver<GetObjectsReply> out) {
    if (invalid(out, () -> Validation.checkGetObjects(request))) {
      return;
    }
    CoreWorker core = core();
    if (core != null) {
      core.objectServer().serveGetObjects(request, out);
      return;
    }
    GetObjectsReply.Builder b = GetObjectsReply.newBuilder();
    for (ByteString oid : request.getObjectIdsList()) {
      b.addObjectIds(oid).addObjects(notOwned(oid));
    }
    out.onNext(b.build());
    out.onCompleted();
  }

  @Override
  public void updateBorrows(UpdateBorrowsRequest request, StreamObserver<UpdateBorrowsReply> out) {
    if (invalid(out, () -> Validation.checkBorrows(request))) {
      return;
    }
    CoreWorker core = core();
    if (core != null) {
      core.objectServer().serveUpdateBorrows(request, out);
      return;
    }
    out.onNext(UpdateBorrowsReply.getDefaultInstance());
    out.onCompleted();
  }

  @Override
  public void addObjectLocation(AddObjectLocationRequest request, StreamObserver<AddObjectLocationReply> out) {
    if (invalid(out, () -> {
      Validation.checkId(request.getObjectId(), "AddObjectLocationRequest.object_id", Ids.OBJECT_BYTES, false);
      Validation.checkId(request.getNodeId(), "AddObjectLocationRequest.node_id", Ids.NODE_BYTES, false);
    })) {
      return;
    }
    CoreWorker core = core();
    if (core != null) {
      core.addObjectLocation(request.getObjectId(), request.getNodeId());
    }
    out.onNext(AddObjectLocationReply.getDefaultInstance());
    out.onCompleted();
  }

  @Override
  public void cancelTask(CancelTaskRequest request, StreamObserver<CancelTaskReply> out) {
    if (invalid(out, () -> Validation.checkId(request.getTaskId(), "CancelTaskRequest.task_id",
        Ids.TASK_BYTES, false))) {
      return;
    }
    CoreWorker core = core();
    if (core == null) { // a worker still starting runs nothing and submitted nothing
      out.onNext(CancelTaskReply.getDefaultInstance());
      out.onCompleted();
      return;
    }
    // A task this process submitted (forwarded, for a borrower), else one it runs;
    // recursive: its children too.
    core.serveCancel(request, cancelRunning(request), out);
  }

  @Override
  public void getObjectRefs(GetObjectRefsRequest request, StreamObserver<GetObjectRefsReply> out) {
    if (invalid(out, () -> Validation.checkGetObjectRefs(request))) {
      return;
    }
    CoreWorker core = core();
    if (core != null) {
      out.onNext(core.listObjectRefs(request));
    } else { // not started yet: it counts nothing
      out.onNext(GetObjectRefsReply.newBuilder()
          .setAddress(Address.newBuilder().setWorkerId(workerId()).setNodeId(nodeId()))
          .setPid((int) ProcessHandle.current().pid()).setLanguage(Language.JAVA).build());
    }
    out.onCompleted();
  }

  private GetObjectReply.Builder notOwned(ByteString oid) {
    return GetObjectReply.newBuilder().setFound(false).setFailure(ErrorRecords.system(ErrorKind.OBJECT_LOST,
        "object " + Ids.hex(oid) + " is not owned by Java worker " + Ids.hex(workerId())
            + " (it is still starting and owns no objects yet)"));
  }

  /**
   * Runs {@code check}; on bad input answers INVALID_ARGUMENT naming the field.
   *
   * @param out the call's reply stream
   * @param check the request's checks ({@link Validation})
   * @return true when the input was bad (and answered)
   */
  protected static boolean invalid(StreamObserver<?> out, Runnable check) {
    try {
      check.run();
      return false;
    } catch (Validation.InvalidInput e) {
      out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      return true;
    }
  }
}

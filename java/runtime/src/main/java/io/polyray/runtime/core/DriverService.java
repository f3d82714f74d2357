package io.polyray.runtime.core;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.CancelTaskRequest;
import io.polyray.runtime.proto.ExitReply;
import io.polyray.runtime.proto.ExitRequest;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import java.util.function.BooleanSupplier;

/**
 * The CoreWorkerService of a Java driver (docs/protocol.md §6): the owner's handlers are
 * {@link CoreWorkerServiceBase}'s; a driver runs no tasks (PushTasks is refused, a cancel
 * it is asked for is of a task it submitted) and does not exit on request.
 */
final class DriverService extends CoreWorkerServiceBase {
  private final CoreWorker core;

  DriverService(CoreWorker core) {
    this.core = core;
  }

  @Override
  protected CoreWorker core() {
    return core;
  }

  @Override
  protected ByteString workerId() {
    return core.workerId;
  }

  @Override
  protected ByteString nodeId() {
    return core.nodeId();
  }

  @Override
  protected BooleanSupplier cancelRunning(CancelTaskRequest request) {
    return () -> false; // it runs nothing: only forwards cancels of tasks it submitted
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
  public void exit(ExitRequest request, StreamObserver<ExitReply> out) {
    out.onNext(ExitReply.newBuilder().setAccepted(false).build());
    out.onCompleted();
  }
}

package io.polyray.runtime.worker;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.codec.ErrorRecords;
import io.polyray.runtime.proto.AddObjectLocationReply;
import io.polyray.runtime.proto.AddObjectLocationRequest;
import io.polyray.runtime.proto.CancelTaskReply;
import io.polyray.runtime.proto.CancelTaskRequest;
import io.polyray.runtime.proto.CoreWorkerServiceGrpc;
import io.polyray.runtime.proto.ErrorKind;
import io.polyray.runtime.proto.ExitReply;
import io.polyray.runtime.proto.ExitRequest;
import io.polyray.runtime.proto.GetObjectReply;
import io.polyray.runtime.proto.GetObjectRequest;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.proto.UpdateBorrowsReply;
import io.polyray.runtime.proto.UpdateBorrowsRequest;
import io.polyray.runtime.ref.Hex;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The CoreWorkerService of a Java worker (docs/protocol.md §6). PushTasks queues every
 * task on the executor and streams results back as tasks finish, several per message
 * when several are ready at once (gRPC also coalesces the writes of messages queued
 * together into one flush). GetObject and UpdateBorrows go to the worker's CoreWorker,
 * which owns what the worker's tasks put or submitted (task returns belong to their
 * callers).
 */
final class CoreWorkerServiceImpl extends CoreWorkerServiceGrpc.CoreWorkerServiceImplBase {
  private final JavaWorker worker;

  CoreWorkerServiceImpl(JavaWorker worker) {
    this.worker = worker;
  }

  /** One PushTasks call: counts tasks in flight so the stream ends after the last result. */
  private final class Stream {
    private final ServerCallStreamObserver<PushTasksReply> out;
    private final ConcurrentLinkedQueue<TaskResult> ready = new ConcurrentLinkedQueue<>();
    private int pending;
    private boolean halfClosed;
    private boolean done;

    Stream(ServerCallStreamObserver<PushTasksReply> out) {
      this.out = out;
      // Without a handler, onNext after the caller went away would throw.
      out.setOnCancelHandler(() -> {
        synchronized (this) {
          done = true;
        }
      });
    }

    synchronized void added(int n) {
      pending += n;
    }

    /**
     * Sends the result, with any others ready, as one message. Called on the task
     * thread: onNext only queues the message for the network thread, so sending here
     * costs no extra thread hand-off; results that pile up while a send holds the lock
     * (several executors later, or flow control) go out together.
     */
    void reply(TaskResult r) {
      ready.add(r);
      List<TaskResult> batch = new ArrayList<>();
      synchronized (this) {
        for (TaskResult x; (x = ready.poll()) != null; ) {
          batch.add(x);
        }
        if (batch.isEmpty()) {
          return; // a concurrent reply sent it already
        }
        pending -= batch.size();
        if (done) {
          return; // the caller is gone; it fails these tasks itself
        }
        try {
          out.onNext(PushTasksReply.newBuilder().addAllResults(batch).build());
        } catch (RuntimeException e) {
          done = true;
          return;
        }
        finishIfIdle();
      }
    }

    synchronized void halfClose() {
      halfClosed = true;
      finishIfIdle();
    }

    synchronized void broken() {
      done = true;
    }

    private void finishIfIdle() {
      if (halfClosed && pending == 0 && !done) {
        done = true;
        try {
          out.onCompleted();
        } catch (RuntimeException e) {
          // already cancelled by the caller
        }
      }
    }
  }

  @Override
  public StreamObserver<PushTasksRequest> pushTasks(StreamObserver<PushTasksReply> responseObserver) {
    Stream s = new Stream((ServerCallStreamObserver<PushTasksReply>) responseObserver);
    return new StreamObserver<PushTasksRequest>() {
      @Override
      public void onNext(PushTasksRequest req) {
        s.added(req.getTasksCount());
        for (TaskSpec spec : req.getTasksList()) {
          worker.executor().enqueue(spec, s::reply);
        }
      }

      @Override
      public void onError(Throwable t) {
        s.broken();
      }

      @Override
      public void onCompleted() {
        s.halfClose();
      }
    };
  }

  @Override
  public void getObject(GetObjectRequest request, StreamObserver<GetObjectReply> out) {
    io.polyray.runtime.core.CoreWorker core = worker.core();
    if (core != null) {
      core.serveGetObject(request, out); // objects put (or tasks submitted) by this worker's tasks
      return;
    }
    out.onNext(GetObjectReply.newBuilder().setFound(false).setFailure(ErrorRecords.system(ErrorKind.OBJECT_LOST,
        "object " + Hex.of(request.getObjectId().toByteArray()) + " is not owned by Java worker "
            + Hex.of(worker.config().workerId.toByteArray()) + " (Java workers own no objects: the results "
            + "of their tasks belong to the callers)")).build());
    out.onCompleted();
  }

  @Override
  public void updateBorrows(UpdateBorrowsRequest request, StreamObserver<UpdateBorrowsReply> out) {
    io.polyray.runtime.core.CoreWorker core = worker.core();
    if (core != null) {
      core.serveUpdateBorrows(request, out);
      return;
    }
    out.onNext(UpdateBorrowsReply.getDefaultInstance());
    out.onCompleted();
  }

  @Override
  public void addObjectLocation(AddObjectLocationRequest request, StreamObserver<AddObjectLocationReply> out) {
    out.onNext(AddObjectLocationReply.getDefaultInstance());
    out.onCompleted();
  }

  @Override
  public void cancelTask(CancelTaskRequest request, StreamObserver<CancelTaskReply> out) {
    boolean attempted = worker.executor().cancel(request.getTaskId(), request.getForce());
    out.onNext(CancelTaskReply.newBuilder().setAttempted(attempted).build());
    out.onCompleted();
  }

  @Override
  public void exit(ExitRequest request, StreamObserver<ExitReply> out) {
    out.onNext(ExitReply.newBuilder().setAccepted(true).build());
    out.onCompleted();
    worker.exitSoon();
  }
}

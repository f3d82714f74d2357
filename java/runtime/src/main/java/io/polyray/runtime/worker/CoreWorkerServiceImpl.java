package io.polyray.runtime.worker;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.polyray.runtime.proto.CancelTaskRequest;
import io.polyray.runtime.proto.ExitReply;
import io.polyray.runtime.proto.ExitRequest;
import io.polyray.runtime.proto.PushTasksReply;
import io.polyray.runtime.proto.PushTasksRequest;
import io.polyray.runtime.proto.TaskResult;
import io.polyray.runtime.proto.TaskSpec;
import io.polyray.runtime.spec.RuntimeSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * The CoreWorkerService of a Java worker (docs/protocol.md §6). PushTasks queues every
 * task on the executor and streams results back as tasks finish: one reply message
 * being written at a time, the results that finish meanwhile together in the next
 * (§7.2), so a caller sending many short tasks handles a few large replies. The owner's
 * handlers (GetObject(s), UpdateBorrows, AddObjectLocation, GetObjectRefs, CancelTask) are
 * {@link io.polyray.runtime.core.CoreWorkerServiceBase}'s, shared with the driver's
 * service: the worker's CoreWorker owns what its tasks put or submitted (task returns
 * belong to their callers). Here: PushTasks, Exit, and cancelling a task it runs.
 */
final class CoreWorkerServiceImpl extends io.polyray.runtime.core.CoreWorkerServiceBase {
  private final JavaWorker worker;

  CoreWorkerServiceImpl(JavaWorker worker) {
    this.worker = worker;
  }

  /**
   * One PushTasks call (docs/protocol.md §7.2): at most one reply message is being
   * written at a time, and the results that finish meanwhile leave together in the next
   * one, so a caller that sends many short tasks gets a few large replies rather than one
   * per task. "Being written" is gRPC's own notion: with an on-ready threshold of one
   * byte the stream is not ready from the moment a message is queued until the network
   * thread has written it out, and turns ready (calling {@link #onReady}) then. Every
   * onNext happens under this object's lock (StreamObserver is not thread-safe): on the
   * task thread when the stream is idle, else on the network thread in onReady. Counts
   * the tasks in flight so the stream ends after the last result.
   */
  /** How many of the results end their task (a generator's items precede its end). */
  static int ended(List<TaskResult> batch) {
    int n = 0;
    for (TaskResult r : batch) {
      if (r.getGeneratorItem() == 0) {
        n++;
      }
    }
    return n;
  }

  private static final class Stream {
    private final ServerCallStreamObserver<PushTasksReply> out;
    private ArrayList<TaskResult> ready = new ArrayList<>();
    private int pending;
    private boolean writing;
    private boolean halfClosed;
    private boolean done;

    Stream(ServerCallStreamObserver<PushTasksReply> out) {
      this.out = out;
      // Without a handler, onNext after the caller went away would throw.
      out.setOnCancelHandler(() -> {
        synchronized (this) {
          done = true;
          ready.clear();
        }
      });
      out.setOnReadyThreshold(1);
      out.setOnReadyHandler(this::onReady);
    }

    synchronized void added(int n) {
      pending += n;
    }

    /**
     * Queues a result (from the task thread) and sends it at once unless a reply is
     * being written; then it leaves with the others in {@link #onReady}.
     */
    synchronized void reply(TaskResult r) {
      if (done) {
        if (r.getGeneratorItem() == 0) {
          pending--; // the caller is gone; it fails these tasks itself
        }
        return;
      }
      ready.add(r);
      if (!writing) {
        send();
      }
    }

    /** The previous reply was written out (network thread): send what piled up since. */
    private synchronized void onReady() {
      if (!writing || !out.isReady()) {
        return;
      }
      writing = false;
      if (!ready.isEmpty() && !done) {
        send();
      }
    }

    private void send() {
      List<TaskResult> batch = ready;
      ready = new ArrayList<>();
      pending -= ended(batch);
      try {
        out.onNext(PushTasksReply.newBuilder().addAllResults(batch).build());
      } catch (RuntimeException e) {
        done = true;
        return;
      }
      // Not ready means the message is still queued: onReady follows once it is out.
      // Ready means it is out already (or the stream closed; done follows).
      writing = !out.isReady();
      finishIfIdle();
    }

    synchronized void halfClose() {
      halfClosed = true;
      finishIfIdle();
    }

    synchronized void broken() {
      done = true;
      ready.clear();
    }

    /** Bad input: the stream ends with INVALID_ARGUMENT naming the field (results in flight are lost). */
    synchronized void reject(String why) {
      System.err.println("polyray: Java worker: closing a PushTasks stream: " + why);
      if (done) {
        return;
      }
      done = true;
      ready.clear();
      try {
        out.onError(io.grpc.Status.INVALID_ARGUMENT.withDescription(why).asRuntimeException());
      } catch (RuntimeException e) {
        // already cancelled by the caller
      }
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
    LeaseProofs guard = LeaseProofs.PROCESS;
    return new StreamObserver<PushTasksRequest>() {
      private LeaseProofs.StreamLease lease = LeaseProofs.StreamLease.none();

      @Override
      public void onNext(PushTasksRequest req) {
        lease = guard.open(req, lease);
        try {
          Validation.checkPush(req);
        } catch (Validation.InvalidInput e) {
          s.reject(e.getMessage());
          return;
        }
        s.added(req.getTasksCount());
        for (TaskSpec spec : req.getTasksList()) {
          try {
            Validation.checkTaskSpec(spec);
          } catch (Validation.InvalidInput e) {
            if (!Validation.addressable(spec)) {
              s.reject("a task that cannot be answered: " + e.getMessage());
              return;
            }
            System.err.println("polyray: Java worker: rejecting a pushed task: " + e.getMessage());
            s.reply(Validation.invalidTaskResult(spec, e, "java"));
            continue;
          }
          String why = guard.enabled() ? guard.refusal(lease, spec) : null;
          if (why != null) {
            System.err.println("polyray: Java worker: refusing a pushed task: " + why);
            s.reply(LeaseProofs.refusedResult(spec, why, "java"));
            continue;
          }
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
  protected io.polyray.runtime.core.CoreWorker core() {
    return worker.core();
  }

  @Override
  protected com.google.protobuf.ByteString workerId() {
    return worker.config().workerId;
  }

  @Override
  protected com.google.protobuf.ByteString nodeId() {
    return worker.config().nodeId;
  }

  @Override
  protected java.util.function.BooleanSupplier cancelRunning(CancelTaskRequest request) {
    return () -> worker.executor().cancel(request.getTaskId(), request.getForce());
  }

  @Override
  public void exit(ExitRequest request, StreamObserver<ExitReply> out) {
    if (!request.getForce()) {
      // The raylet's idle reaper: an owner of objects others still hold, or a holder of
      // borrowed ones, stays (docs/ownership.md, "Workers that own objects").
      String why = worker.core().whyNotExit();
      if (!why.isEmpty()) {
        out.onNext(ExitReply.newBuilder().setAccepted(false).setReason("this worker " + why).build());
        out.onCompleted();
        return;
      }
    }
    // Borrows returned but not yet told to their owners go out first.
    worker.core().flushBorrows(RuntimeSpec.IDLE_EXIT_ANSWER_MS / 2);
    out.onNext(ExitReply.newBuilder().setAccepted(true).build());
    out.onCompleted();
    worker.exitSoon();
  }
}
